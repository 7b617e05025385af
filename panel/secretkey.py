"""The demo's own SECRET_KEY: made on its first start, kept in a file only its owner reads."""

import os
import secrets
from pathlib import Path


def read_or_create(path: Path) -> str:
    """The key stored at `path`; a new random one (file mode 0600) when there is none yet."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    key = secrets.token_urlsafe(50)
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key
