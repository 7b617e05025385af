from django.db import models

from inventory.models import Server, SwitchPort


class PortCounter(models.Model):
    """A switch port's last raw counter reading: the baseline of its next interval.

    Counter64 values are stored as two's complement in a signed bigint (values of 2**63 and
    above are negative). `pending_*` are the octets already seen in the slot that was under
    way at `read_at`, counted from that slot's start; null when that start is not covered
    (the slot will be a gap).
    """

    port = models.OneToOneField(
        SwitchPort, primary_key=True, on_delete=models.CASCADE, related_name="traffic_counter"
    )
    read_at = models.DateTimeField()
    uptime_ticks = models.BigIntegerField(help_text="sysUpTime, hundredths of a second")
    in_octets = models.BigIntegerField()
    out_octets = models.BigIntegerField()
    pending_in = models.BigIntegerField(null=True)
    pending_out = models.BigIntegerField(null=True)

    def __str__(self):
        return f"counters of port {self.port_id} at {self.read_at:%Y-%m-%d %H:%M:%S}"


class TrafficDay(models.Model):
    """One port's traffic for one UTC day, attributed to the server it was connected to.

    `slots` holds the day's per-slot octets (network.traffic.storage); `bytes_in` and
    `bytes_out` are the exact totals of every octet the counters accounted for that day,
    including intervals whose shape is unknown (missed polls), so they can exceed the sum of
    the slots.
    """

    pk = models.CompositePrimaryKey("server", "day", "port")
    # The primary key's index serves the server's lookups; no index of their own (storage).
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    port = models.ForeignKey(SwitchPort, on_delete=models.CASCADE, related_name="+", db_index=False)
    bytes_in = models.BigIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0)
    slots = models.BinaryField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="trafficday_day")]

    def __str__(self):
        return f"traffic of port {self.port_id} for server {self.server_id} on {self.day}"


class TrafficMonth(models.Model):
    """A server's month, rolled up when the month has ended: kept after the detail is pruned."""

    pk = models.CompositePrimaryKey("server", "month")
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="+", db_index=False)
    month = models.DateField(help_text="The month's first day")
    bytes_in = models.BigIntegerField()
    bytes_out = models.BigIntegerField()
    p95_in_bps = models.BigIntegerField(null=True)
    p95_out_bps = models.BigIntegerField(null=True)
    samples_present = models.PositiveIntegerField()
    samples_expected = models.PositiveIntegerField()

    def __str__(self):
        return f"traffic of server {self.server_id} in {self.month:%Y-%m}"
