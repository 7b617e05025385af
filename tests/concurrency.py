"""Test support: fire calls from many threads at the same instant, each with its own connection."""

import threading

from django.db import connections


def all_at_once(calls) -> list:
    """Run every call in its own thread, released together by a barrier; return their results."""
    barrier = threading.Barrier(len(calls))
    answers = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            answers[index] = call()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return answers
