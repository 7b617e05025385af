"""Parsing and fingerprinting of OpenSSH public keys."""

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import load_ssh_public_key
from django.core.exceptions import ValidationError

KEY_TYPES = {
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
}
MIN_RSA_BITS = 2048
# Unicode's control characters and line/paragraph separators: an installer config or a
# YAML parser would start a new line (or a terminal would act) at any of them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True)
class ParsedKey:
    key_type: str
    blob: bytes
    comment: str

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256(self.blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    @property
    def canonical(self) -> str:
        line = f"{self.key_type} {base64.b64encode(self.blob).decode()}"
        return f"{line} {self.comment}" if self.comment else line


def parse_public_key(text: str) -> ParsedKey:
    """Validate one OpenSSH public key line ("type base64 [comment]")."""
    parts = (text or "").strip().split(None, 2)
    if len(parts) < 2 or "\n" in (text or "").strip():
        raise ValidationError('Paste one OpenSSH public key line: "ssh-ed25519 AAAA… comment".')
    if _CONTROL.search(text.strip()):
        raise ValidationError(
            "Control characters (line breaks included) are not allowed in an SSH key or its "
            "comment."
        )
    key_type, encoded = parts[0], parts[1]
    comment = parts[2].strip() if len(parts) == 3 else ""
    if key_type not in KEY_TYPES:
        raise ValidationError(
            f'"{key_type[:40]}" is not a supported key type (use ssh-ed25519, ssh-rsa or ecdsa).'
        )
    try:
        blob = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationError("The key data is not valid base64.") from exc
    if not blob.startswith(len(key_type).to_bytes(4, "big") + key_type.encode()):
        raise ValidationError("The key data does not match its type.")
    if not key_type.startswith("sk-"):
        try:
            key = load_ssh_public_key(f"{key_type} {encoded}".encode())
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise ValidationError("The key data is damaged or truncated.") from exc
        if key_type == "ssh-rsa" and key.key_size < MIN_RSA_BITS:
            raise ValidationError(f"RSA keys must have at least {MIN_RSA_BITS} bits.")
    return ParsedKey(key_type=key_type, blob=blob, comment=comment)


def parse_public_keys(texts: Iterable[str]) -> list[ParsedKey]:
    """Validate several key lines at once; the error names each bad one by its position
    (1-based), so a caller passing a list sees which entry to fix."""
    parsed, problems = [], []
    for number, text in enumerate(texts, 1):
        try:
            parsed.append(parse_public_key(text))
        except ValidationError as exc:
            problems.append(f"Key {number}: {' '.join(exc.messages)}")
    if problems:
        raise ValidationError(problems)
    return parsed
