"""Test support for traffic accounting: ports, and counters read as a switch reports them."""

import itertools
from datetime import UTC, datetime, timedelta

from inventory.models import Switch, SwitchPort
from network.traffic.ingest import PortReading, record_readings

_seq = itertools.count(1)


def make_port(server=None, **fields) -> SwitchPort:
    n = next(_seq)
    switch = fields.pop("switch", None) or Switch.objects.create(
        name=f"sw-{n}", address="192.0.2.1", port=10000 + n
    )
    return SwitchPort.objects.create(
        switch=switch, name=f"Gi1/0/{n}", if_index=n, server=server, **fields
    )


class Counters:
    """A port's counters as a switch would report them: feed it octets, read it at times."""

    def __init__(self, port, *, start=0, uptime_seconds=86400):
        self.port = port
        self.in_octets = self.out_octets = start
        self.uptime_ticks = uptime_seconds * 100

    def read(self, at: datetime, *, add_in: int = 0, add_out: int = 0, after: float = 300):
        """Counters grow by add_in/add_out, the agent's clock by `after` seconds; then read."""
        self.in_octets = (self.in_octets + add_in) % 2**64
        self.out_octets = (self.out_octets + add_out) % 2**64
        self.uptime_ticks = (self.uptime_ticks + int(after * 100)) % 2**32
        reading = PortReading(self.port.pk, self.in_octets, self.out_octets, self.uptime_ticks)
        return record_readings([reading], read_at=at)


# A Tuesday; slots of 300 s.
T0 = datetime(2026, 11, 3, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def feed(port, octets_in, octets_out, *, first_minute=0, start=T0):
    """Readings every 5 minutes from `start` + first_minute, one slot of octets each."""
    counters = Counters(port)
    begin = start + timedelta(minutes=first_minute)
    counters.read(begin)
    for n, (octets_i, octets_o) in enumerate(zip(octets_in, octets_out, strict=True), 1):
        counters.read(begin + timedelta(minutes=5 * n), add_in=octets_i, add_out=octets_o)
    return counters
