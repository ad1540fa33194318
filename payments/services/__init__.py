"""Payment writes. Every gateway call follows the same three steps:

1. a short transaction locks the payment, checks the rules and writes the intent
   (a `GatewayCall`, and for refunds a `pending` Refund that holds its share of the
   ceiling), then commits;
2. the gateway is called with no transaction open, so no row lock is held while
   waiting on the network (refused if the caller has a transaction open);
3. a second short transaction stores the answer, then moves the state.

A retry while the call is still unanswered raises OperationInProgress (a retryable
GatewayError); after a crash between 2 and 3, once the in-flight grace (the gateway timeout plus a margin) has passed, a
retry repeats the call with the same idempotency key, which the gateway deduplicates.

The three steps live in `gateway_calls` (`_claim`, `_perform`, `_complete`), with
the in-flight grace and the small lookups and input checks the services share; each
operation has its own module: `authorizing`, `capturing`, `voiding`, `refunding`
and `webhooks`.
"""

from .amending import payment_amount_change, payment_authorization_raise
from .authorizing import payment_authorize, payment_build, payment_create
from .capturing import payment_capture
from .refunding import payment_refund
from .voiding import payment_void
from .webhooks import payment_apply_webhook

__all__ = [
    "payment_amount_change",
    "payment_apply_webhook",
    "payment_authorization_raise",
    "payment_authorize",
    "payment_build",
    "payment_capture",
    "payment_create",
    "payment_refund",
    "payment_void",
]
