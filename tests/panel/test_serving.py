"""Web and worker processes settle their garbage collector once the panel is loaded."""

import json
import subprocess
import sys

import pytest
from django.conf import settings


@pytest.mark.parametrize("entry_point", ["panel.wsgi", "panel.asgi"])
def test_a_web_process_freezes_what_it_loaded_and_collects_the_young_less_often(entry_point):
    probe = (
        f"import gc, json, {entry_point}; "
        "print(json.dumps([gc.get_freeze_count(), gc.get_threshold()[0], "
        "'provisioning.api.views' in __import__('sys').modules]))"
    )
    frozen, threshold, views_loaded = json.loads(_run(probe).splitlines()[-1])
    assert frozen > 50_000  # the framework, every view and serializer
    assert threshold == 10_000
    assert views_loaded  # imported before the freeze, not at the first request


def test_a_worker_process_settles_its_collector_as_it_spawns():
    probe = (
        "import django, gc, json; django.setup(); "
        "from django_q.conf import Conf; from django_q.signals import post_spawn; "
        "Conf.SYNC = False; "  # as in a qcluster's worker process
        "post_spawn.send(sender='django_q', proc_name='Process-1:1'); "
        "print(json.dumps([gc.get_freeze_count(), gc.get_threshold()[0]]))"
    )
    frozen, threshold = json.loads(_run(probe).splitlines()[-1])
    assert frozen > 50_000
    assert threshold == 10_000


def test_tasks_run_in_the_callers_process_leave_its_collector_alone():
    probe = (
        "import django, gc, json; django.setup(); "
        "from django_q.conf import Conf; from django_q.signals import post_spawn; "
        "Conf.SYNC = True; "
        "post_spawn.send(sender='django_q', proc_name='MainProcess'); "
        "print(json.dumps([gc.get_freeze_count(), gc.get_threshold()[0]]))"
    )
    assert json.loads(_run(probe).splitlines()[-1]) == [0, 700]


def _run(probe: str) -> str:
    """`probe` in a Python process of its own (freezing lasts for the life of a process)."""
    answer = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=settings.BASE_DIR,
        env={
            "SECRET_KEY": "test-only",
            "DJANGO_SETTINGS_MODULE": "panel.settings",
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return answer.stdout
