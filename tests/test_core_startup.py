"""core.startup: what a server process loaded at start-up is frozen out of the
garbage collector's work; what it creates afterwards is still collected."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

from core.startup import freeze_startup_objects

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def thawed():
    gc.unfreeze()
    yield
    gc.unfreeze()  # this test process goes on with its collector as it was


class Node:
    def __init__(self):
        self.other = self


def test_freezes_what_is_alive_and_still_collects_what_comes_later(thawed):
    loaded = Node()
    freeze_startup_objects()
    assert gc.get_freeze_count() > 1000
    tracked = {id(o) for o in gc.get_objects()}
    assert id(loaded) not in tracked  # left out of every collection from now on

    later = Node()  # a reference cycle made after start-up
    gone = weakref.ref(later)
    del later
    gc.collect()
    assert gone() is None


def test_the_wsgi_module_loads_the_urlconf_and_freezes_it():
    code = (
        "import gc, sys\n"
        "import config.wsgi\n"
        "print(gc.get_freeze_count(), 'orders.api.orders' in sys.modules)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    frozen, views_loaded = out.stdout.split()
    assert int(frozen) > 50_000  # Django, the project's apps and every view
    assert views_loaded == "True"
