"""Stripe-style signatures: `Metalpanel-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of
"<t>.<body>">`. The time is signed too, so a receiver can refuse old replays."""

import hashlib
import hmac

HEADER = "Metalpanel-Signature"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header's value for `body` sent at `timestamp`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
