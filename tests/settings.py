"""Test run: the panel's own settings, given a throwaway SECRET_KEY if none is set."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")

from panel.settings import *  # noqa: F403

# The API reads JSON only; DRF's test client sends multipart unless told.
REST_FRAMEWORK = {**REST_FRAMEWORK, "TEST_REQUEST_DEFAULT_FORMAT": "json"}  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test users
# The test client, simlab's machines and QEMU's user network all reach the panel over loopback.
PANEL_BOOT_ALLOWED_CIDRS = ["127.0.0.0/8", "::1/128"]

# The SQLite test database is a file, so worker processes started by end-to-end tests
# (a real `qcluster`) can open it too.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"metalpanel-test-{os.getpid()}.sqlite3")
    }
