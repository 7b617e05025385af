"""django-q2 entry points: thin, they load and call."""

from network.traffic.upkeep import maintain_traffic


def maintain_traffic_tables() -> str:
    report = maintain_traffic()
    return f"rolled up {report.rolled_up} server-months, pruned {report.pruned} port-days"
