"""The `X-Orderly-Signature` scheme, shared by every signed webhook in and out:
`sha256=<hex HMAC-SHA256 of the raw body with the sender's secret>`."""

from __future__ import annotations

import hashlib
import hmac


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(body: bytes, secret: str, given: str | None) -> bool:
    """Constant-time check; the hex may come in either case. No secret, no
    signature: invalid."""
    if not secret or not given:
        return False
    # As bytes: compare_digest refuses str with non-ASCII characters (a 500).
    given_bytes = given.strip().lower().encode("utf-8", "surrogateescape")
    return hmac.compare_digest(sign(body, secret).encode(), given_bytes)
