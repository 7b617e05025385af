"""Bulk enrolment from CSV: every row checked by the same service as a single enrolment;
one refused row and nothing is imported, with a report of every refused row and why."""

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from inventory import services
from inventory.models import HardwareProfile, Rack
from panel.exceptions import PanelError, error_text
from panel.models import User

COLUMNS = (
    "name",
    "configuration",
    "location",
    "rack",
    "unit",
    "mac",
    "serial",
    "bmc_address",
    "bmc_port",
    "bmc_username",
    "bmc_password",
)
REQUIRED = ("name", "configuration", "bmc_address", "bmc_username", "bmc_password")
MAX_ROWS = 5000


@dataclass
class ImportReport:
    enrolled: list[str] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)

    @property
    def ok(self) -> bool:
        return not self.refused


class _Refused(Exception):
    pass


def _number(row: dict, column: str, default: int | None) -> int | None:
    text = (row.get(column) or "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise ValidationError({column: [f'"{text}" is not a whole number.']})
    return int(text)


def _enrol_row(actor: User, row: dict, profiles: dict, racks: dict) -> str:
    missing = [column for column in REQUIRED if not (row.get(column) or "").strip()]
    if missing:
        raise ValidationError(f"Missing {', '.join(missing)}.")
    profile = profiles.get(row["configuration"].strip())
    if profile is None:
        raise ValidationError(f'No configuration "{row["configuration"].strip()}".')
    rack = None
    if (row.get("rack") or "").strip():
        rack = racks.get(((row.get("location") or "").strip(), row["rack"].strip()))
        if rack is None:
            raise ValidationError(f'No rack "{row["rack"].strip()}" in "{row.get("location")}".')
    server = services.enrol_server(
        actor=actor,
        name=row["name"].strip(),
        profile=profile,
        rack=rack,
        unit=_number(row, "unit", None),
        mac=(row.get("mac") or "").strip() or None,
        serial=(row.get("serial") or "").strip(),
        bmc={
            "address": row["bmc_address"].strip(),
            "port": _number(row, "bmc_port", 623),
            "username": row["bmc_username"].strip(),
            "password": row["bmc_password"],
        },
    )
    return server.name


def import_servers(*, actor: User, text: str) -> ImportReport:
    """Enrol a server per CSV row (header: see COLUMNS), all of them or none."""
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    unknown = set(reader.fieldnames or ()) - set(COLUMNS)
    absent = set(REQUIRED) - set(reader.fieldnames or ())
    if not reader.fieldnames or unknown or absent:
        problems = []
        if absent:
            problems.append(f"missing columns {', '.join(sorted(absent))}")
        if unknown:
            problems.append(f"unknown columns {', '.join(sorted(unknown))}")
        report.refused.append(
            (1, f"The header must name the columns {', '.join(COLUMNS)}; {'; '.join(problems)}.")
        )
        return report
    profiles = {profile.name: profile for profile in HardwareProfile.objects.all()}
    racks = {(r.location.name, r.name): r for r in Rack.objects.select_related("location")}
    try:
        with transaction.atomic():
            for row in reader:
                if reader.line_num > MAX_ROWS + 1:
                    report.refused.append((reader.line_num, f"More than {MAX_ROWS} rows."))
                    break
                try:
                    with transaction.atomic():
                        report.enrolled.append(_enrol_row(actor, row, profiles, racks))
                except (ValidationError, PanelError) as exc:
                    report.refused.append((reader.line_num, error_text(exc, name_fields=True)))
            if report.refused:
                raise _Refused
    except _Refused:
        report.enrolled.clear()
    except csv.Error as exc:
        report.enrolled.clear()
        report.refused.append((reader.line_num, f"Not valid CSV: {exc}"))
    return report
