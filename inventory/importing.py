"""Bulk enrolment from CSV: every row checked by the same service as a single enrolment;
one refused row and nothing is imported, with a report of every refused row and why."""

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction

from inventory import services
from inventory.models import HardwareProfile, Pdu, Rack, Switch
from panel.exceptions import PanelError, error_text
from panel.models import User

SERVER_COLUMNS = (
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
CONNECTION_COLUMNS = ("switch", "switch_port", "bmc_switch_port", "pdu", "pdu_outlet")
# Optional columns that connect the server: its port (and its BMC's port) on a switch and its
# outlet on a PDU, by the names in inventory; a port or outlet not there yet is created.
CONNECTION_HELP = (
    "switch + switch_port: the server's port on that switch (by name, e.g. Gi1/0/7); "
    "bmc_switch_port: its BMC's port on the same switch; pdu + pdu_outlet: the number of the "
    "outlet feeding it. A port or outlet not in inventory yet is created (discovery later "
    "fills in its ifIndex); one already connected to another server refuses the row."
)
COLUMNS = (*SERVER_COLUMNS, *CONNECTION_COLUMNS)
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
    text = _text(row, column)
    if not text:
        return default
    if not (text.isascii() and text.isdigit()):  # "²" is a digit to str.isdigit, not to int()
        raise ValidationError({column: [f'"{text}" is not a whole number.']})
    return int(text)


def _text(row: dict, column: str) -> str:
    return (row.get(column) or "").strip()


def _device(row: dict, column: str, devices: dict, points: tuple[str, ...]):
    """The switch or PDU the row names, if it names one with its ports or outlets."""
    name = _text(row, column)
    named = [point for point in points if _text(row, point)]
    if not name:
        if named:
            raise ValidationError({column: [f"{' and '.join(named)} needs the {column}."]})
        return None
    if not named:
        raise ValidationError({points[0]: [f'Name the {points[0]} on {column} "{name}".']})
    if name not in devices:
        raise ValidationError(f'No {column} "{name}".')
    return devices[name]


def _connect_row(actor: User, row: dict, server, switch: Switch | None, pdu: Pdu | None) -> None:
    if switch is not None:
        ports = {"switch_port": False, "bmc_switch_port": True}
        if _text(row, "switch_port") == _text(row, "bmc_switch_port"):
            raise ValidationError({"bmc_switch_port": ["The BMC has a port of its own."]})
        for column, is_bmc in ports.items():
            if _text(row, column):
                port = services.switch_port_named(
                    actor=actor, switch=switch, name=row[column].strip()
                )
                services.connect_switch_port(
                    actor=actor, port=port, server=server, is_ipmi_connection=is_bmc
                )
    if pdu is not None:
        outlet = services.pdu_outlet_numbered(
            actor=actor, pdu=pdu, number=_number(row, "pdu_outlet", None)
        )
        services.connect_pdu_outlet(actor=actor, outlet=outlet, server=server)


def _enrol_row(actor: User, row: dict, profiles: dict, racks: dict, devices: dict) -> str:
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
    switch = _device(row, "switch", devices["switch"], ("switch_port", "bmc_switch_port"))
    pdu = _device(row, "pdu", devices["pdu"], ("pdu_outlet",))
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
    _connect_row(actor, row, server, switch, pdu)
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
            (
                1,
                f"The header must name the columns {', '.join(SERVER_COLUMNS)} (and may name "
                f"{', '.join(CONNECTION_COLUMNS)}); {'; '.join(problems)}.",
            )
        )
        return report
    profiles = {profile.name: profile for profile in HardwareProfile.objects.all()}
    racks = {(r.location.name, r.name): r for r in Rack.objects.select_related("location")}
    devices = {
        "switch": {switch.name: switch for switch in Switch.objects.all()},
        "pdu": {pdu.name: pdu for pdu in Pdu.objects.all()},
    }
    try:
        with transaction.atomic():
            for row in reader:
                if reader.line_num > MAX_ROWS + 1:
                    report.refused.append((reader.line_num, f"More than {MAX_ROWS} rows."))
                    break
                try:
                    with transaction.atomic():
                        report.enrolled.append(_enrol_row(actor, row, profiles, racks, devices))
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
