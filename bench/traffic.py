"""Traffic accounting at fleet scale: 10,000 switch ports on 20 simlab switch agents.

Prints:
1. simlab's start for the fleet (one process, switch agent and PDU agent per rack of 500
   machines: seconds and memory), enrolment and cabling; then poll rounds of every data
   port (`network.traffic.poll.poll_round`): the first (baselines only) and counting rounds
   an interval later, each in seconds and ports/s with the CPU seconds of the panel's process
   and of the agents' processes;
2. storage per port-month: 31 days of 5-minute readings of a sample of ports (synthetic
   varying traffic, see `port_rates`) fed through `record_readings`, then the TrafficDay
   table's bytes with its indexes per port, as ingested (PostgreSQL: a plain VACUUM every
   VACUUM_ROUNDS rounds, as autovacuum would) and compacted (VACUUM [FULL]);
3. the month's 95th percentile and volume of every server (`month_usage`) over a month of
   rows for all servers, made in bulk from the day blobs ingested in 2.: min and median.

SQLite in a temporary folder by default; `--database-url postgres://...` creates that database
(it must not exist yet) and drops it at the end.

    python bench/traffic.py [--servers 10000] [--rounds 3] [--sample 100] [--runs 5]
        [--database-url postgres://postgres@127.0.0.1:5432/bench_traffic]
"""

import argparse
import json
import os
import shutil
import statistics
import time
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from benchlib import create_database, database_version, drop_database, setup_django, start_simlab

INTERVAL = 300
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# PostgreSQL's autovacuum cleans a table once 20 % of its rows are dead: with 10,000 ports'
# month (310,000 day rows) and each round rewriting 10,000 of them, every 6 rounds.
VACUUM_ROUNDS = 6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=10000, help="machines, a data port each")
    parser.add_argument("--rounds", type=int, default=3, help="counting poll rounds")
    parser.add_argument("--sample", type=int, default=100, help="ports ingested for a month")
    parser.add_argument("--runs", type=int, default=5, help="runs of month_usage")
    parser.add_argument("--base-port", type=int, default=5000, help="first BMC's UDP port")
    parser.add_argument("--agent-port", type=int, default=4000, help="first switch agent's")
    parser.add_argument("--database-url", help="a PostgreSQL database to create and drop")
    args = parser.parse_args()

    os.environ.pop("REDIS_URL", None)
    os.environ.pop("DATABASE_URL", None)
    if args.database_url:
        create_database(args.database_url)
        os.environ["DATABASE_URL"] = args.database_url
    workdir = setup_django()
    try:
        print(database_version())
        poll(args)
        pool = storage(args)
        percentile(args, pool)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if args.database_url:
            from django.db import connections

            connections.close_all()
            drop_database(args.database_url)


def poll(args) -> None:
    from django.db.models import F

    from network.models import PortCounter
    from network.traffic.poll import poll_round
    from provisioning.simlab.enrolment import cable_lab, enrol_lab
    from provisioning.simlab.wiring import MAX_BMCS_PER_PROCESS, rack_wiring

    ports = list(range(args.base_port, args.base_port + args.servers))
    racks = -(-args.servers // MAX_BMCS_PER_PROCESS)
    switch_port, pdu_port = args.agent_port, args.agent_port + racks
    control_port = args.agent_port + 2 * racks
    began = time.monotonic()
    enrol_lab(ports=ports, username="admin", password="password")
    enrolled = time.monotonic() - began
    began = time.monotonic()
    cable_lab(rack_wiring(ports, switch_port=switch_port, pdu_port=pdu_port), community="public")
    print(
        f"{args.servers} servers enrolled in {enrolled:.1f} s, "
        f"cabled ({racks} switches, PDUs) in {time.monotonic() - began:.1f} s"
    )

    began = time.monotonic()
    lab = start_simlab(
        args.servers,
        args.base_port,
        *("--switch-port", str(switch_port), "--pdu-port", str(pdu_port)),
        *("--control-port", str(control_port)),
    )
    try:
        started = time.monotonic() - began
        if lab.poll() is not None:
            raise SystemExit("simlab did not start (its error is above).")
        agents = _children(lab.pid)
        print(
            f"simlab: {args.servers} machines in {len(agents)} rack processes ready in "
            f"{started:.1f} s, {_pss_mib([lab.pid, *agents]):.0f} MiB (PSS, all processes)"
        )
        began = time.monotonic()
        for rack in range(racks):
            _control(control_port + rack, "/switch", {"uptime": 86400})
            for port in ports[rack * MAX_BMCS_PER_PROCESS : (rack + 1) * MAX_BMCS_PER_PROCESS]:
                _control(control_port + rack, f"/machines/{port}", {"power": "on"})
        print(f"machines powered on (traffic flowing) in {time.monotonic() - began:.1f} s")

        seconds = []
        for number in range(args.rounds + 1):
            if number:  # an interval passes, by the panel's clock and the agents'
                PortCounter.objects.update(
                    read_at=F("read_at") - timedelta(seconds=INTERVAL),
                    uptime_ticks=F("uptime_ticks") - INTERVAL * 100,
                )
            cpu, agents_cpu = time.process_time(), _cpu_seconds(agents)
            report = poll_round()
            cpu, agents_cpu = time.process_time() - cpu, _cpu_seconds(agents) - agents_cpu
            kind = "counting" if number else "first (baselines)"
            print(
                f"poll round, {kind}: {report.ports} ports of {report.switches} switches in "
                f"{report.seconds:.2f} s = {report.ports / report.seconds:,.0f} ports/s; CPU: "
                f"panel {cpu:.1f} s, agents {agents_cpu:.1f} s; failed switches "
                f"{len(report.failed)}, missing ports {report.missing}"
            )
            if number:
                seconds.append(report.seconds)
        if seconds:
            print(
                f"counting rounds: min {min(seconds):.2f} s, "
                f"median {statistics.median(seconds):.2f} s"
            )
    finally:
        lab.terminate()
        lab.wait(timeout=60)


def storage(args) -> dict[int, list]:
    """Ingest a month for `args.sample` ports; their day rows (port id -> rows by day)."""
    from django.db.models import Sum

    from inventory.models import SwitchPort
    from network.models import PortCounter, TrafficDay
    from network.traffic.ingest import PortReading, record_readings

    TrafficDay.objects.all().delete()
    PortCounter.objects.all().delete()
    port_ids = list(
        SwitchPort.objects.filter(server__isnull=False, is_ipmi_connection=False)
        .order_by("pk")
        .values_list("pk", flat=True)[: args.sample]
    )
    start, days = _month()
    intervals = days * 86400 // INTERVAL
    rng = np.random.default_rng(12)
    rates_out = port_rates(rng, len(port_ids), intervals)
    rates_in = rates_out * 0.3 * rng.uniform(0.8, 1.2, rates_out.shape)
    # Readings a few seconds past each slot's start, as a schedule on whole minutes reads.
    read_at = (np.arange(intervals) * INTERVAL + rng.uniform(2, 20, intervals)).round(3)
    elapsed = np.diff(read_at, prepend=read_at[0])
    totals_out = _counters(rng, rates_out * elapsed / 8)
    totals_in = _counters(rng, rates_in * elapsed / 8)
    ticks = (8_640_000 + read_at * 100).astype(np.int64)

    began = time.monotonic()
    for k in range(intervals):
        moment = start + timedelta(seconds=float(read_at[k]))
        record_readings(
            [
                PortReading(port_id, int(totals_in[p, k]), int(totals_out[p, k]), int(ticks[k]))
                for p, port_id in enumerate(port_ids)
            ],
            read_at=moment,
        )
        if k % VACUUM_ROUNDS == VACUUM_ROUNDS - 1:
            _vacuum()
    ingested = time.monotonic() - began
    rows = TrafficDay.objects.count()
    recorded = TrafficDay.objects.aggregate(Sum("bytes_in"), Sum("bytes_out"))
    passed = [int(sum((t[:, -1] - t[:, 0]) % 2**64)) for t in (totals_in, totals_out)]
    print(
        f"storage: {len(port_ids)} ports x {days} days of 5-minute readings ({intervals} rounds) "
        f"ingested in {ingested:.0f} s ({ingested / intervals * 1000:.1f} ms a round); "
        f"{rows} day rows; traffic: log-normal port rates (median 20 Mbit/s out, 30 % in), "
        f"daily cycle, +-35 % noise, 1 % bursts"
    )
    exact = passed == [recorded["bytes_in__sum"], recorded["bytes_out__sum"]]
    print(f"  volume recorded {'equals' if exact else 'DIFFERS FROM'} the counters' difference")
    _print_size("sample", len(port_ids))
    pool = {}
    for port_id, day, bytes_in, bytes_out, slots in TrafficDay.objects.order_by(
        "port_id", "day"
    ).values_list("port_id", "day", "bytes_in", "bytes_out", "slots"):
        pool.setdefault(port_id, []).append((day, bytes_in, bytes_out, bytes(slots)))
    return pool


def port_rates(rng, ports: int, intervals: int) -> np.ndarray:
    """Out rates (bit/s) per port and interval: a log-normal base (median 20 Mbit/s) swelling
    and ebbing +-40 % over the day (each port its own phase), +-35 % noise from one interval to
    the next, 1 % of intervals bursts of 3-8x; at most 1 Gbit/s."""
    base = np.clip(rng.lognormal(np.log(20e6), 1.0, (ports, 1)), 1e5, 9e8)
    hours = np.arange(intervals) * INTERVAL / 3600
    phase = rng.uniform(0, 2 * np.pi, (ports, 1))
    daily = 1 + 0.4 * np.sin(2 * np.pi * hours / 24 + phase)
    noise = rng.uniform(0.65, 1.35, (ports, intervals))
    bursts = np.where(rng.random((ports, intervals)) < 0.01, rng.uniform(3, 8), 1.0)
    return np.minimum(base * daily * noise * bursts, 1e9)


def percentile(args, pool: dict[int, list]) -> None:
    from django.db import transaction

    from inventory.models import SwitchPort
    from network.models import PortCounter, TrafficDay
    from network.traffic.selectors import month_usage

    TrafficDay.objects.all().delete()
    PortCounter.objects.all().delete()
    ports = SwitchPort.objects.filter(server__isnull=False, is_ipmi_connection=False)
    connected = list(ports.order_by("pk").values_list("server_id", "pk"))
    samples = list(pool.values())
    began = time.monotonic()
    with transaction.atomic():
        for first in range(0, len(connected), 1000):
            TrafficDay.objects.bulk_create(
                [
                    TrafficDay(
                        server_id=server_id,
                        port_id=port_id,
                        day=day,
                        bytes_in=bytes_in,
                        bytes_out=bytes_out,
                        slots=slots,
                    )
                    for n, (server_id, port_id) in enumerate(connected[first : first + 1000])
                    for day, bytes_in, bytes_out, slots in samples[(first + n) % len(samples)]
                ],
                batch_size=1000,
            )
    rows = TrafficDay.objects.count()
    print(
        f"95th: {rows} day rows of {len(connected)} servers (the sample's ingested days, "
        f"bulk-inserted) in {time.monotonic() - began:.0f} s"
    )
    _print_size(f"all {len(connected)}", len(connected))
    start, _ = _month()
    seconds, usage = [], {}
    for _ in range(args.runs):
        began = time.monotonic()
        usage = month_usage(start.date())
        seconds.append(time.monotonic() - began)
    billed = sorted(u.p95_max_bps for u in usage.values() if u.p95_max_bps is not None)
    print(
        f"month_usage({start:%Y-%m}) of {len(usage)} servers, {args.runs} runs: "
        f"min {min(seconds):.2f} s, median {statistics.median(seconds):.2f} s "
        f"(median billed 95th {billed[len(billed) // 2] / 1e6:.1f} Mbit/s)"
    )


def _month() -> tuple[datetime, int]:
    """The last ended month of 31 days: its start and days."""
    month = date.today().replace(day=1)
    while True:
        month = (month - timedelta(days=1)).replace(day=1)
        following = (month + timedelta(days=31)).replace(day=1)
        if (following - month).days == 31:
            return datetime.combine(month, datetime.min.time(), tzinfo=UTC), 31


def _counters(rng, octets: np.ndarray) -> np.ndarray:
    """Counter64 values: from a random start, each interval's octets added, modulo 2**64."""
    starts = rng.integers(0, 2**64 - 1, (octets.shape[0], 1), dtype=np.uint64, endpoint=True)
    # uint64 arithmetic wraps as the counters do.
    return (starts + np.cumsum(octets.round().astype(np.uint64), axis=1)).astype(object)


def _print_size(label: str, ports: int) -> None:
    from network.models import TrafficDay

    table = TrafficDay._meta.db_table
    sizes = [_table_bytes(table)]
    _vacuum(full=True)
    sizes.append(_table_bytes(table))
    rows = TrafficDay.objects.count()
    print(
        f"  TrafficDay with indexes, {label} ports: as written {sizes[0] / ports / 1024:.1f} KiB, "
        f"compacted {sizes[1] / ports / 1024:.1f} KiB a port-month "
        f"({sizes[1] / rows:,.0f} bytes a port-day, {rows / ports:.0f} days a port)"
    )


def _vacuum(*, full: bool = False) -> None:
    """PostgreSQL: what autovacuum does (a month of rewritten day rows in minutes would
    otherwise pile up as dead rows), or VACUUM FULL; SQLite: VACUUM when full (it reuses
    freed pages by itself)."""
    from django.db import connection

    from network.models import TrafficDay

    table = TrafficDay._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor != "sqlite":
            cursor.execute(f"VACUUM {'FULL ' if full else ''}{table}")
        elif full:
            cursor.execute("VACUUM")


def _table_bytes(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT SUM(pgsize) FROM dbstat WHERE name IN "
                "(SELECT name FROM sqlite_master WHERE tbl_name = %s)",
                [table],
            )
        else:
            cursor.execute("SELECT pg_total_relation_size(%s)", [table])
        return cursor.fetchone()[0]


def _control(port: int, path: str, change: dict) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(change).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - our own loopback lab
        pass


def _children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / CLOCK_TICKS


def _pss_mib(pids: list[int]) -> float:
    kib = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                kib += int(line.split()[1])
    return kib / 1024


if __name__ == "__main__":
    main()
