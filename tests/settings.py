"""Test run: the panel's own settings, given a throwaway SECRET_KEY if none is set."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")

from panel.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test users

# The SQLite test database is a file, so worker processes started by end-to-end tests
# (a real `qcluster`) can open it too.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"metalpanel-test-{os.getpid()}.sqlite3")
    }
