"""Power-state sync: what the panel last read from each BMC, and the periodic sweep.

A round of the sweep claims every due BMC and is cut into chunks, which any number of
workers on any hosts read (services.sync_power_states queues them); each BMC is read once
a round. A chunk reads its BMCs in parallel (bounded), then writes all results in a few
queries. A BMC that fails twice in a row is marked unreachable and polled less
often (exponential backoff, capped); one with an active operation is always due.
A change of power state that no operation explains is drift: it is audited, and
with the `enforce` policy the report names the BMC, for services.sync_power_chunk to
queue an operation that restores the requested state.
"""

import concurrent.futures
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from inventory.events import bmc_data, server_data
from inventory.models import Bmc
from panel import audit, polling
from provisioning.bmc import BmcError, BmcUnreachable
from provisioning.bmc.drivers import driver_for
from provisioning.models import Operation, SweepRecord
from webhooks.events import publish

POLL_FIELDS = [
    "power_state",
    "power_state_read_at",
    "last_seen",
    "reachable",
    "last_error",
    "consecutive_failures",
    "next_poll_at",
    "cipher_suite",
]


def _interval() -> timedelta:
    return timedelta(seconds=settings.PANEL_POWER_SYNC_SECONDS)


def _apply_success(bmc: Bmc, state: str, cipher_suite: int | None, now, due_from=None) -> None:
    """`due_from`: when the next poll's interval starts (a round's planning time, so that the
    next tick finds the BMC due again; else the read's own time)."""
    if bmc.reachable is False:
        publish("bmc.reachable", lambda: bmc_data(bmc))
    bmc.power_state = state
    bmc.power_state_read_at = bmc.last_seen = now
    bmc.reachable = True
    bmc.last_error = ""
    bmc.consecutive_failures = 0
    bmc.next_poll_at = (due_from or now) + _interval()
    if cipher_suite:
        bmc.cipher_suite = cipher_suite


def _apply_failure(bmc: Bmc, message: str, now, due_from=None) -> None:
    bmc.consecutive_failures += 1
    bmc.last_error = message[:500]
    if bmc.consecutive_failures >= polling.UNREACHABLE_AFTER_FAILURES:
        if bmc.reachable is not False:  # first contact never made counts as a change too
            publish("bmc.unreachable", lambda: bmc_data(bmc))
        bmc.reachable = False
        bmc.power_state = Bmc.PowerState.UNKNOWN
    failures = bmc.consecutive_failures
    bmc.next_poll_at = polling.next_poll_after_failure(due_from or now, _interval(), failures)


def _store(bmc: Bmc) -> None:
    """Save a read; a BMC deleted while it was read (its server removed) keeps nothing."""
    Bmc.objects.filter(pk=bmc.pk).update(**{name: getattr(bmc, name) for name in POLL_FIELDS})


def record_power_state(bmc: Bmc, state: str, cipher_suite: int | None = None) -> None:
    """Store a state an operation just read from the BMC (so the sweep sees no drift)."""
    _apply_success(bmc, state, cipher_suite, timezone.now())
    _store(bmc)


def record_failure(bmc: Bmc, message: str) -> None:
    _apply_failure(bmc, message, timezone.now())
    _store(bmc)


def read_now(bmc: Bmc) -> "SweepReport":
    """Read the power state at once, as a sweep of one (GET .../power/?refresh=true);
    failures are recorded too."""
    driver = driver_for(bmc)
    try:
        state = driver.power_state()
    except BmcError as exc:
        record_failure(bmc, exc.message)
        raise
    report = SweepReport(polled=1)
    busy = _busy_servers([bmc.server_id])
    _observe(bmc, state, driver.cipher_suite, busy, timezone.now(), report)
    _store(bmc)
    return report


def probe(bmc: Bmc) -> str:
    """One short read of a BMC already marked unreachable, so that an operation on a dead BMC
    fails in about a second instead of holding a worker for the full timeout."""
    seconds = settings.PANEL_BMC_PROBE_SECONDS
    try:
        return driver_for(bmc, timeout=seconds).power_state()
    except BmcUnreachable:
        since = f"since {bmc.last_seen:%Y-%m-%d %H:%M} UTC" if bmc.last_seen else "yet"
        raise BmcUnreachable(
            f"The BMC at {bmc.address}:{bmc.port} has not answered {since} and did not answer "
            f"a {seconds:g} s probe now. Check that it is powered and reachable from the panel; "
            "the power sync marks it reachable again once it answers."
        ) from None


@dataclass
class SweepReport:
    polled: int = 0
    failed: int = 0
    drifted: list[int] = field(default_factory=list)
    # Drifted from the requested state under the `enforce` policy: the caller restores them.
    to_restore: list[Bmc] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Round:
    """The BMCs one round of the sweep took (by pk), named by when it was planned."""

    began: datetime
    bmc_ids: list[int]

    def chunks(self) -> list[list[int]]:
        """The round cut into the pieces one task reads (PANEL_POWER_SYNC_CHUNK BMCs each), in
        enrolment order: the BMCs of a rack that lost power, all timing out, hold up one or two
        chunks, not every chunk of the round (a chunk ends when its slowest read does)."""
        size = settings.PANEL_POWER_SYNC_CHUNK
        return [self.bmc_ids[i : i + size] for i in range(0, len(self.bmc_ids), size)]


def _busy_servers(server_ids) -> set[int]:
    return set(
        Operation.objects.active()
        .filter(server_id__in=server_ids)
        .values_list("server_id", flat=True)
    )


def _busy_since(since) -> set[int]:
    """Servers with an operation active now or changed (ended) since `since`: the sweep's read
    of them may be older than what the operation saw, so it is never drift (updated_at is
    indexed; finished_at is not)."""
    busy = Q(state__in=Operation.ACTIVE_STATES) | Q(updated_at__gte=since)
    return set(Operation.objects.filter(busy).values_list("server_id", flat=True))


def _observe(
    bmc: Bmc, state: str, cipher_suite, busy: set[int], now, report: SweepReport, due_from=None
):
    previous = bmc.power_state
    _apply_success(bmc, state, cipher_suite, now, due_from)
    known = {Bmc.PowerState.ON, Bmc.PowerState.OFF}
    if bmc.server_id in busy or previous not in known or previous == state:
        return
    audit.record(
        actor=None,
        action="server.power_drift",
        target=bmc.server,
        previous=previous,
        observed=state,
    )
    publish(
        "server.power_drift",
        lambda: {**server_data(bmc.server), "previous": previous, "observed": state},
    )
    report.drifted.append(bmc.server_id)
    wanted = bmc.desired_power_state
    if bmc.drift_policy == Bmc.DriftPolicy.ENFORCE and wanted in known and wanted != state:
        report.to_restore.append(bmc)


def _read(bmc: Bmc):
    driver = driver_for(bmc)
    try:
        return driver.power_state(), driver.cipher_suite
    except BmcError as exc:
        return exc, None


def claim_round() -> Round:
    """Take every due BMC that no chunk holds, for a new round, in one UPDATE: a second planner
    (on another host, or the next tick while this round's chunks still run) cannot take them
    too. A server with an active operation is due every round. A claim expires: the BMCs of a
    chunk that never ends (its worker died, the broker lost it) go to a later round."""
    began = timezone.now()
    busy = Operation.objects.active().values("server_id")
    due = Q(next_poll_at__isnull=True) | Q(next_poll_at__lte=began) | Q(server_id__in=busy)
    free = Q(sweep_claimed_until__isnull=True) | Q(sweep_claimed_until__lte=began)
    until = began + timedelta(seconds=settings.PANEL_POWER_SYNC_CLAIM_SECONDS)
    Bmc.objects.filter(due & free).update(sweep_round=began, sweep_claimed_until=until)
    taken = Bmc.objects.filter(sweep_round=began, sweep_claimed_until=until).order_by("pk")
    return Round(began=began, bmc_ids=list(taken.values_list("pk", flat=True)))


def sweep_chunk(began: datetime, bmc_ids: list[int]) -> SweepReport:
    """Read, in parallel, the BMCs among `bmc_ids` that round `began` still holds, and store
    what each one said. The chunk first renews their claim (it may start long after the round
    was planned), so no later round takes them while it reads. A chunk run twice, or one
    whose claim expired before it started, reads (or stores) none of them again: their
    next round reads them."""
    since = timezone.now()
    until = since + timedelta(seconds=settings.PANEL_POWER_SYNC_CLAIM_SECONDS)
    Bmc.objects.filter(pk__in=bmc_ids, sweep_round=began, sweep_claimed_until__gt=since).update(
        sweep_claimed_until=until
    )
    held = Bmc.objects.filter(pk__in=bmc_ids, sweep_round=began, sweep_claimed_until=until)
    due = list(held.select_related("server__owner"))
    report = SweepReport(polled=len(due))
    workers = max(1, min(settings.PANEL_POWER_SYNC_CONCURRENCY, len(due)))
    with concurrent.futures.ThreadPoolExecutor(
        max_workers=workers, thread_name_prefix="sweep"
    ) as pool:
        readings = list(pool.map(_read, due))
    read_at = timezone.now()  # one time for the whole chunk, so the rows share their values
    busy = _busy_since(since)
    with transaction.atomic():
        for bmc, (reading, suite) in zip(due, readings, strict=True):
            if isinstance(reading, BmcError):
                report.failed += 1
                _apply_failure(bmc, reading.message, read_at, due_from=began)
            else:
                _observe(bmc, reading, suite, busy, read_at, report, due_from=began)
        _save_polls(due, read_since=since, began=began)
        Bmc.objects.filter(pk__in=bmc_ids, sweep_round=began).update(sweep_claimed_until=None)
    report.seconds = (timezone.now() - since).total_seconds()
    return report


def _save_polls(bmcs: list[Bmc], read_since: datetime, began: datetime) -> None:
    """Store the chunk's reads, except over a state an operation read after the chunk began
    (the chunk's read of a server being powered on is older than the operation's), and except
    on a BMC a later round took meanwhile (its own read counts)."""
    polling.update_in_groups(
        Bmc,
        {bmc.pk: {name: getattr(bmc, name) for name in POLL_FIELDS} for bmc in bmcs},
        only_where=Q(sweep_round=began)
        & (Q(power_state_read_at__isnull=True) | Q(power_state_read_at__lt=read_since)),
    )


def any_round_running(now: datetime) -> bool:
    return Bmc.objects.filter(sweep_claimed_until__gt=now).exists()


def finished_round(began: datetime) -> SweepReport | None:
    """The round's figures once no chunk holds any of its BMCs any more, else None: the chunk
    that finishes last (on whichever worker) reports the round. A round whose BMCs a later
    one took (its claims expired) has nothing to report."""
    in_round = Bmc.objects.filter(sweep_round=began)
    if in_round.filter(sweep_claimed_until__isnull=False).exists():
        return None
    figures = in_round.aggregate(
        polled=Count("pk"), failed=Count("pk", filter=Q(consecutive_failures__gt=0))
    )
    if not figures["polled"]:
        return None
    seconds = (timezone.now() - began).total_seconds()
    return SweepReport(polled=figures["polled"], failed=figures["failed"], seconds=seconds)


def sweep() -> SweepReport:
    """A whole round in this process, chunk after chunk (a worker's chunks read the same way)."""
    round_ = claim_round()
    report = SweepReport()
    for ids in round_.chunks():
        part = sweep_chunk(round_.began, ids)
        report.polled += part.polled
        report.failed += part.failed
        report.drifted += part.drifted
        report.to_restore += part.to_restore
    report.seconds = (timezone.now() - round_.began).total_seconds()
    return report


def record_sweep(report: SweepReport) -> None:
    """Keep the sweep's figures where /metrics reads them, whichever worker ran it."""
    SweepRecord.objects.update_or_create(
        kind="power",
        defaults={
            "finished_at": timezone.now(),
            "seconds": report.seconds,
            "polled": report.polled,
            "failed": report.failed,
        },
    )
