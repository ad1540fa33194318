"""Process start-up for the servers (gunicorn's workers, the Celery worker):
what start-up loaded is left out of the garbage collector's work."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Move every object alive now (Django's apps, models, URLconf, the
    project's modules: ~150,000 in a web worker) into the collector's permanent
    generation. Python's cyclic collector otherwise walks all of them in every
    full collection, with every thread of the process stopped: in a gunicorn
    worker placing orders, a full collection took up to 190 ms and the
    collector about 4 % of the process's time (bench/RESULTS.md, 2026-12-05
    night). What the process creates afterwards is collected as before; the
    frozen objects live as long as the process anyway."""
    gc.collect()  # start-up's garbage is freed, not frozen
    gc.freeze()
