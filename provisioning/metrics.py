"""What /metrics tells Prometheus, in its text exposition format (version 0.0.4).

Every figure is one aggregate query, whatever the fleet's size. Counts of finished work are
over a recent window (PANEL_METRICS_WINDOW_SECONDS), so they can go down as well as up.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone
from django_q.brokers import get_broker

from inventory.models import Bmc
from panel.models import FailedLogin
from provisioning.models import Operation, SweepRecord

DURATION_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200]


@dataclass
class Family:
    name: str
    kind: str  # gauge, histogram
    help: str
    samples: list[tuple[str, dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, suffix: str = "", **labels: str) -> None:
        self.samples.append((self.name + suffix, labels, value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_escape(value)}"' for key, value in labels.items()) + "}"


def _number(value: float) -> str:
    """Whole numbers as such, others at full precision (a Unix time in seconds needs it)."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def exposition(families: list[Family]) -> str:
    lines = []
    for family in families:
        lines.append(f"# HELP {family.name} {family.help}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        lines.extend(
            f"{name}{_labels(labels)} {_number(value)}" for name, labels, value in family.samples
        )
    return "\n".join(lines) + "\n"


def _window() -> timedelta:
    return timedelta(seconds=settings.PANEL_METRICS_WINDOW_SECONDS)


def _operations(since) -> Family:
    family = Family(
        "metalpanel_operations",
        "gauge",
        "Operations queued or running now, and those finished in the window, by kind and state.",
    )
    recent = Operation.objects.filter(
        Q(state__in=Operation.ACTIVE_STATES)
        # updated_at (indexed) is never before finished_at; it narrows the scan to the window.
        | Q(updated_at__gte=since, finished_at__gte=since)
    )
    for row in recent.values("kind", "state").annotate(count=Count("id")).order_by():
        family.add(row["count"], kind=row["kind"], state=row["state"])
    return family


def _durations(since) -> Family:
    family = Family(
        "metalpanel_operation_duration_seconds",
        "histogram",
        "From start to end of the operations finished in the window, by kind.",
    )
    took = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    buckets = {
        f"le_{bound}": Count("id", filter=Q(took__lte=timedelta(seconds=bound)))
        for bound in DURATION_BUCKETS
    }
    rows = (
        Operation.objects.filter(
            updated_at__gte=since, finished_at__gte=since, started_at__isnull=False
        )
        .annotate(took=took)
        .values("kind")
        .annotate(count=Count("id"), total=Sum("took"), **buckets)
        .order_by("kind")
    )
    for row in rows:
        for bound in DURATION_BUCKETS:
            family.add(row[f"le_{bound}"], "_bucket", kind=row["kind"], le=str(bound))
        family.add(row["count"], "_bucket", kind=row["kind"], le="+Inf")
        family.add(row["total"].total_seconds() if row["total"] else 0, "_sum", kind=row["kind"])
        family.add(row["count"], "_count", kind=row["kind"])
    return family


def _queue() -> Family:
    family = Family(
        "metalpanel_queue_depth",
        "gauge",
        "Work waiting: operations not yet started, and tasks in django-q2's broker.",
    )
    family.add(Operation.objects.filter(state=Operation.State.QUEUED).count(), queue="operations")
    family.add(get_broker().queue_size() or 0, queue="tasks")
    return family


def _power_sweep() -> list[Family]:
    record = SweepRecord.objects.filter(kind="power").first()
    figures = [
        ("seconds", "How long the last power-state sweep took."),
        ("polled", "BMCs the last power-state sweep read."),
        ("failed", "BMCs that did not answer the last power-state sweep."),
    ]
    families = [Family(f"metalpanel_power_sweep_{name}", "gauge", text) for name, text in figures]
    finished = Family(
        "metalpanel_power_sweep_finished_timestamp_seconds",
        "gauge",
        "When the last power-state sweep finished (Unix time).",
    )
    if record is not None:
        for family, (name, _) in zip(families, figures, strict=True):
            family.add(getattr(record, name))
        finished.add(record.finished_at.timestamp())
    return [*families, finished]


def _bmcs() -> Family:
    family = Family(
        "metalpanel_bmcs",
        "gauge",
        "BMCs, by whether the power sync reaches them (unknown: not read yet).",
    )
    counts = Bmc.objects.aggregate(
        answering=Count("id", filter=Q(reachable=True)),
        silent=Count("id", filter=Q(reachable=False)),
        unread=Count("id", filter=Q(reachable__isnull=True)),
    )
    family.add(counts["answering"], state="reachable")
    family.add(counts["silent"], state="unreachable")
    family.add(counts["unread"], state="unknown")
    return family


def _login_failures(since) -> Family:
    family = Family(
        "metalpanel_login_failures",
        "gauge",
        "Refused logins in the window.",
    )
    family.add(FailedLogin.objects.filter(at__gte=since).count())
    return family


def collect() -> list[Family]:
    since = timezone.now() - _window()
    return [
        _operations(since),
        _durations(since),
        _queue(),
        *_power_sweep(),
        _bmcs(),
        _login_failures(since),
    ]
