"""A web process settles its garbage collector once the panel is loaded."""

import json
import subprocess
import sys

from django.conf import settings


def test_a_web_process_freezes_what_it_loaded_and_collects_the_young_less_often():
    # A process of its own: freezing is for the life of the process that imports the app.
    probe = (
        "import gc, json, panel.wsgi; "
        "print(json.dumps([gc.get_freeze_count(), gc.get_threshold()[0], "
        "'provisioning.api.views' in __import__('sys').modules]))"
    )
    answer = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=settings.BASE_DIR,
        env={"SECRET_KEY": "test-only", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    frozen, threshold, views_loaded = json.loads(answer.stdout.splitlines()[-1])
    assert frozen > 50_000  # the framework, every view and serializer
    assert threshold == 10_000
    assert views_loaded  # imported before the freeze, not at the first request
