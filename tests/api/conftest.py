from tests.orders.support import on_commit, place, shop  # noqa: F401
