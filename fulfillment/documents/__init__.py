from .packing_slip import render_packing_slip
from .pick_list import render_pick_list

__all__ = ["render_packing_slip", "render_pick_list"]
