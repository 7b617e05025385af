import re
from datetime import UTC, date, datetime, time, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from network.traffic.selectors import month_bounds
from panel.api.serializers import StrictSerializer, UserRefSerializer

MAX_RANGE_DAYS = 400
# Years the panel's calendar arithmetic accepts (Python's datetime ends at 9999).
YEARS = range(2000, 9000)
MOMENT_HELP = (
    "ISO 8601 date (2026-11-01, UTC midnight) or date and time (2026-11-01T12:00:00Z; "
    "without an offset: UTC)."
)


@extend_schema_field(OpenApiTypes.STR)
class MomentField(serializers.Field):
    """A date or a date and time, as an aware UTC datetime. A date `to` means the end of
    that day, so from=2026-11-01&to=2026-11-30 is all of November."""

    default_error_messages = {
        "invalid": "Enter an ISO 8601 date (2026-11-01) or date and time (2026-11-01T12:00:00Z).",
        "year": f"Enter a year from {YEARS.start} to {YEARS.stop - 1}.",
    }

    def __init__(self, *, end_of_day: bool = False, **kwargs):
        self.end_of_day = end_of_day
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        text = str(data).strip()
        whole_day = re.fullmatch(r"\d{4}-\d{2}-\d{2}", text)
        try:
            moment = (
                datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
                if whole_day
                else parse_datetime(text)
            )
        except ValueError:
            self.fail("invalid")
        if moment is None:
            self.fail("invalid")
        if moment.year not in YEARS:
            self.fail("year")
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=UTC)
        if whole_day and self.end_of_day:
            moment += timedelta(days=1)
        return moment.astimezone(UTC)

    def to_representation(self, value):
        return value.isoformat()


class TrafficRangeQuerySerializer(StrictSerializer):
    """`from` and `to` (a keyword in Python, hence get_fields)."""

    def get_fields(self):
        return {
            "from": MomentField(
                required=False,
                help_text=f"Start (included). {MOMENT_HELP} Default: the start of the month "
                "of `to`, or of the current month.",
            ),
            "to": MomentField(
                required=False,
                end_of_day=True,
                help_text=f"End (excluded; a date: the end of that day). {MOMENT_HELP} "
                f"Default: now when `from` is given, else the end of the current month. "
                f"At most {MAX_RANGE_DAYS} days after `from`.",
            ),
        }

    def validate(self, attrs):
        start, end = attrs.get("from"), attrs.get("to")
        if start is None and end is None:
            start, end = month_bounds(timezone.now().date())
        elif end is None:
            end = max(timezone.now(), start + timedelta(minutes=1))
        elif start is None:
            start, _ = month_bounds((end - timedelta(microseconds=1)).date())
        if start >= end:
            raise serializers.ValidationError({"to": ["Must be after `from`."]})
        if end - start > timedelta(days=MAX_RANGE_DAYS):
            raise serializers.ValidationError(
                {"to": [f"At most {MAX_RANGE_DAYS} days after `from`."]}
            )
        return {"start": start, "end": end}


class MonthQuerySerializer(serializers.Serializer):
    """A list's own parameter beside its pages (the view refuses any other parameter)."""

    month = serializers.RegexField(
        r"^\d{4}-(0[1-9]|1[0-2])$",
        required=False,
        help_text="YYYY-MM (UTC). Default: the current month.",
        error_messages={"invalid": "Enter a month as YYYY-MM, e.g. 2026-11."},
    )

    def validate_month(self, value: str) -> date:
        year, month = map(int, value.split("-"))
        if year not in YEARS:
            raise serializers.ValidationError(
                f"Enter a year from {YEARS.start} to {YEARS.stop - 1}."
            )
        return date(year, month, 1)

    def validate(self, attrs):
        return {"month": attrs.get("month") or timezone.now().date().replace(day=1)}


class RatePointSerializer(serializers.Serializer):
    time = serializers.DateTimeField(help_text="Start of the slot (or bucket of slots).")
    in_bps = serializers.FloatField(allow_null=True, help_text="Bit/s into the server; null: gap.")
    out_bps = serializers.FloatField(allow_null=True)


class VolumeSerializer(serializers.Serializer):
    in_bytes = serializers.IntegerField(source="bytes_in")
    out_bytes = serializers.IntegerField(source="bytes_out")
    total_bytes = serializers.IntegerField(source="bytes_total")
    exact = serializers.BooleanField(
        help_text="True when every day was whole (exact counter totals); false when part "
        "of a day was summed from its 5-minute slots (each within 0.05 %)."
    )


class Percentile95Serializer(serializers.Serializer):
    in_bps = serializers.IntegerField(source="p95_in_bps", allow_null=True)
    out_bps = serializers.IntegerField(source="p95_out_bps", allow_null=True)
    max_bps = serializers.IntegerField(
        source="p95_max_bps",
        allow_null=True,
        help_text="max(in 95th, out 95th): what is billed. Null when no sample is present.",
    )


class SamplesSerializer(serializers.Serializer):
    present = serializers.IntegerField(source="samples_present")
    expected = serializers.IntegerField(
        source="samples_expected",
        help_text="Slots of the range that have ended; gaps are left out of the 95th.",
    )


class PortRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    switch = serializers.CharField(source="switch.name")
    name = serializers.CharField()


class ServerTrafficSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    step_seconds = serializers.IntegerField(
        help_text="Seconds per point: the poll interval, or a whole number of them when the "
        "range has more slots than the points returned (2016 at most); each point is then "
        "the mean of its slots' rates, gaps left out (null if all are gaps)."
    )
    rates = RatePointSerializer(many=True)
    volume = VolumeSerializer(source="usage")
    p95 = Percentile95Serializer(source="usage")
    samples = SamplesSerializer(source="usage")
    ports = PortRefSerializer(
        many=True, help_text="The ports whose traffic is counted (the server's data ports)."
    )

    def get_fields(self):
        """`from` and `to`, as the query names them."""
        fields = super().get_fields()
        start, end = fields.pop("start"), fields.pop("end")
        start.source, end.source = "start", "end"
        return {"from": start, "to": end, **fields}


class ServerMonthTrafficSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    owner = UserRefSerializer(allow_null=True)
    owner_since = serializers.DateTimeField(
        allow_null=True,
        help_text="Since when the current owner has it: a later date than the month's start "
        "means part of the month's traffic was another tenant's",
    )
    volume = VolumeSerializer(source="usage")
    p95 = Percentile95Serializer(source="usage")
    samples = SamplesSerializer(source="usage")
