"""Secrets at rest (BMC passwords): Fernet with a key from settings."""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class UnreadableSecret(Exception):
    """The stored secret was written with another key."""


@cache
def _fernet() -> Fernet:
    configured = settings.PANEL_ENCRYPTION_KEY
    if configured:
        try:
            return Fernet(configured)
        except ValueError as exc:
            raise ImproperlyConfigured(
                "PANEL_ENCRYPTION_KEY must be 32 url-safe base64-encoded bytes "
                "(make one: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')."
            ) from exc
    derived = hashlib.sha256(f"metalpanel-secrets:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise UnreadableSecret(
            "The stored secret cannot be decrypted with the current PANEL_ENCRYPTION_KEY."
        ) from exc
