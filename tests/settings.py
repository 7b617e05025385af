"""Test run: the panel's own settings, given a throwaway SECRET_KEY if none is set."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")

from panel.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test users
