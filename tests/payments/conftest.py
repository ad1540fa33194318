import json
from pathlib import Path

import pytest

from payments.gateways.test_gateway import TestGateway

RECORDINGS = Path(__file__).parent / "recordings"


def load_recording(name: str) -> dict:
    """A recorded gateway response body (shaped like the real API's)."""
    return json.loads((RECORDINGS / f"{name}.json").read_text())


@pytest.fixture
def recording():
    return load_recording


@pytest.fixture(autouse=True)
def _fresh_test_gateway():
    TestGateway.reset()
    yield
    TestGateway.reset()
