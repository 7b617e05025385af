"""django-q2 entry points of the panel itself: thin, they call and report."""

from panel import retention


def purge_history() -> str:
    deleted = retention.purge_history(seconds=retention.TASK_SECONDS)
    return retention.purge_report(deleted)
