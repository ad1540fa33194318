"""Return reads. A customer sees only their own returns; anyone else's number
is a plain 404, so existence never leaks."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from core.errors import NotFound

from .models import ReturnLine, ReturnRequest


def user_sees_all_returns(user) -> bool:
    return bool(user.is_staff and user.has_perm("returns.view_returnrequest"))


def _with_details() -> QuerySet[ReturnRequest]:
    return ReturnRequest.objects.select_related(
        "order", "order__market", "replacement_order"
    ).prefetch_related(
        Prefetch(
            "lines",
            queryset=ReturnLine.objects.select_related("order_line", "replacement_product"),
        ),
        "events",
    )


def return_list(*, user) -> QuerySet[ReturnRequest]:
    qs = _with_details()
    return qs if user_sees_all_returns(user) else qs.filter(customer=user)


def return_get(*, user, number: str) -> ReturnRequest:
    rr = return_list(user=user).filter(number=number).first()
    if rr is None:
        raise NotFound(f"No return {number}.")
    return rr


def return_detail(*, return_id: int) -> ReturnRequest:
    """For answering the caller who just wrote the return (visibility was
    checked on the way in)."""
    return _with_details().get(pk=return_id)
