"""django-q2 entry points: thin, they load and call."""

from network.traffic.poll import poll_round
from network.traffic.upkeep import maintain_traffic


def poll_traffic() -> str:
    report = poll_round()
    failed = f", no answer from {', '.join(report.failed)}" if report.failed else ""
    return (
        f"read {report.ports} ports on {report.switches} switches in {report.seconds:.2f} s{failed}"
    )


def maintain_traffic_tables() -> str:
    report = maintain_traffic()
    return f"rolled up {report.rolled_up} server-months, pruned {report.pruned} port-days"
