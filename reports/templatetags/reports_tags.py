from django import template

from orders.admin_views import format_minutes

register = template.Library()


@register.filter
def minutes(value) -> str:
    """42 → "42 min", 135 → "2 h 15 min", 3000 → "2 d 2 h"; "—" for none."""
    if value is None or value == "":
        return "—"
    return format_minutes(int(value))
