"""A simlab machine's network boot, played against the panel's real boot endpoints.

It does over HTTP what iPXE and an installer do, from the machine's own address: fetch
`/boot/ipxe?mac=`, follow the script's kernel arguments to the installer config (or
cloud-init's user-data), send the reports the config's own commands would send, ending with
`done` (or fail, or go silent, as the machine's `install_outcome` says), then reboot into
the new system. Booted in rescue mode (`metalpanel.mode=rescue` on the kernel line), it
reports the rescue script's events and stays at the rescue shell until its next boot.
"""

import base64
import gzip
import hashlib
import http.client
import json
import logging
import re
import time
import urllib.parse

logger = logging.getLogger(__name__)

HTTP_TIMEOUT = 15
CONFIG_URL = re.compile(r"(https?://\S+?/boot/config/[\w-]+)/?(?=\s|$)")
EVENTS_URL = re.compile(r"https?://[^\s\"']+/boot/events/[\w-]+")
# The boot script's first line: "echo Metalpanel: OS installation: AlmaLinux 9 on web-01".
ANNOUNCED = re.compile(r"^echo Metalpanel: [^:]+: (.+) on (\S+)$", re.MULTILINE)
# The reports a rendered config sends (curl -d "...", wget --post-data "...", post "...").
REPORT = re.compile(r'"(event=[^"]*)"')
UTILITY = "Metalpanel utility image"
RESCUE_ARGUMENT = "metalpanel.mode=rescue"
RESCUE_BANNER = "Metalpanel rescue system"
RESCUE_PROMPT = "root@rescue:~# "
WIPED = re.compile(r"then wipe \((simple|full)\)")
# The agent image's disk imaging lines in a capture or restore script (see provisioning/agent).
CAPTURE = re.compile(r"^capture_disk (\S+) (\S+) (\d+) ", re.MULTILINE)
RESTORE = re.compile(r"^restore_disk (\S+) (\S+) (\d+) ", re.MULTILINE)
# As the agent image reports them, for simlab's configuration (2 x 480 GB SSD).
SIMULATED_FACTS = json.dumps(
    {
        "cpu": "Intel Xeon E-2236 (simulated)",
        "cpus": 12,
        "ram_mb": 32768,
        "disks": [
            {
                "name": name,
                "size_bytes": 480103981056,
                "rotational": False,
                "model": "MZ7LH480 (simulated)",
                "serial": f"SIM-{name}",
            }
            for name in ("sda", "sdb")
        ],
    }
)


class NetbootError(Exception):
    pass


def request(
    method: str, url: str, *, source: str, body: bytes | None = None, headers=None, **form
) -> tuple[int, str]:
    """One HTTP request sent from `source` (a loopback address of this host), form-encoded
    `form` (or `body` with `headers`) as its body: the status and the text of the answer."""
    parts = urllib.parse.urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(
        parts.hostname, parts.port, timeout=HTTP_TIMEOUT, source_address=(source, 0)
    )
    if form:
        body, headers = (
            urllib.parse.urlencode(form),
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
    try:
        connection.request(
            method,
            parts.path + (f"?{parts.query}" if parts.query else ""),
            body=body,
            headers=headers or {},
        )
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    except OSError as exc:
        raise NetbootError(f"{method} {url}: {exc}") from exc
    finally:
        connection.close()


def _get(machine, url: str) -> str:
    status, text = request("GET", url, source=machine.address)
    if status != 200:
        raise NetbootError(f"GET {url}: HTTP {status}")
    return text


def _post(machine, url: str, **fields) -> None:
    status, _ = request("POST", url, source=machine.address, **fields)
    if status >= 300:
        logger.warning("simlab: the panel answered %s to an installer report", status)


def _fetch_config(machine, kernel_line: str) -> str:
    """What the installer reads: the config URL in its kernel arguments (autoinstall's
    nocloud-net reads user-data and meta-data beneath it). Its screen shows the URL."""
    found = CONFIG_URL.search(kernel_line)
    if found is None:
        raise NetbootError("the boot script names no installer config")
    url = found.group(1)
    machine.say(f"Installer: reading {url}")
    if "ds=nocloud" in kernel_line:
        _get(machine, f"{url}/meta-data")
        return _get(machine, f"{url}/user-data")
    return _get(machine, url)


def _reports(config: str) -> list[dict]:
    """What the config's own commands would report, in order, its shell variables filled."""
    wiped = WIPED.search(config)
    shell = {"$facts": SIMULATED_FACTS, "$disk": "sda", "$wipe": wiped[1] if wiped else "none"}
    reports = []
    for raw in REPORT.findall(config):
        report = dict(urllib.parse.parse_qsl(raw))
        for name, value in report.items():
            for variable, filled in shell.items():
                report[name] = value = value.replace(variable, filled)
        reports.append(report)
    return reports


def _move_disk_images(machine, config: str) -> None:
    """What the agent's capture_disk and restore_disk do, for a simulated disk of one piece
    of zeroes: post it (base64 of gzip, with its SHA-256), or fetch the image's pieces."""
    for disk, url, piece_mib in CAPTURE.findall(config):
        raw = bytes(int(piece_mib) * 2**20)
        status, answer = request(
            "POST",
            f"{url}/{disk}/0",
            source=machine.address,
            body=base64.encodebytes(gzip.compress(raw)),
            headers={
                "Content-Type": "text/plain",
                "X-Piece-SHA256": hashlib.sha256(raw).hexdigest(),
            },
        )
        if status != 201:
            raise NetbootError(f"the panel refused a piece of {disk}: HTTP {status} {answer}")
        machine.say(f"Agent: captured {disk}")
    for disk, url, pieces in RESTORE.findall(config):
        for index in range(int(pieces)):
            _get(machine, f"{url}/{index}")
        machine.say(f"Agent: restored {disk}")


def _install(machine, config: str, os_name: str, hostname: str) -> None:
    """Send the config's reports spread over install_seconds; its last one is `done`."""
    _move_disk_images(machine, config)
    found = EVENTS_URL.search(config)
    reports = _reports(config)
    if found is None or not reports or reports[-1].get("event") != "done":
        raise NetbootError("the installer config sends no reports ending with done")
    events = found.group(0)
    pause = machine.install_seconds / len(reports)
    for report in reports[:-1]:
        _post(machine, events, **report)
        machine.say(f"Installer: {report.get('message') or report['event']}")
        if machine.install_outcome == "hang":
            machine.say("Installer: (hangs)")
            return
        time.sleep(pause)
    if machine.install_outcome == "fail":
        failure = "Simulated failure: disk sdb did not answer"
        _post(machine, events, event="failed", message=failure)
        machine.say("Installer: failed")
        return
    _post(machine, events, **reports[-1])
    machine.say("Installer: done; rebooting")
    time.sleep(pause)
    machine.installed(_system_after(config, machine.os, os_name), hostname)


def _rescue(machine, config: str) -> None:
    """The rescue system: it sends its script's reports (the last, `done`, once root may log
    in), then waits at a root shell; its disk is untouched. A later boot leaves it."""
    found = EVENTS_URL.search(config)
    if found is None:
        raise NetbootError("the rescue script sends no reports")
    for report in _reports(config):
        _post(machine, found.group(0), **report)
    machine.say(RESCUE_BANNER)
    machine.say("Log in as root: SSH with your keys or the one-time password, or here.")
    machine.wait_at_shell(RESCUE_PROMPT)


def _system_after(config: str, before: str, os_name: str) -> str:
    """What the disk holds now: the new OS; after the utility image, the old one unless wiped."""
    if UTILITY not in config:
        return os_name
    return "" if WIPED.search(config) else before


def run(machine) -> None:
    """One network boot, in its own thread: the firmware asks the panel what to boot."""
    try:
        script = _get(machine, f"{machine.boot_url}/boot/ipxe?mac={machine.mac}")
        machine.say(f"iPXE: fetched {machine.boot_url}/boot/ipxe")
        kernel_line = next((ln for ln in script.splitlines() if ln.startswith("kernel ")), None)
        if kernel_line is None:
            machine.say(f"iPXE exits to the local disk: {machine.os or 'no operating system'}")
            return
        if RESCUE_ARGUMENT in kernel_line.split():
            machine.say("iPXE: loading the rescue system")
            _rescue(machine, _fetch_config(machine, kernel_line))
            return
        announced = ANNOUNCED.search(script)
        unannounced = ("an OS installed by Metalpanel", machine.hostname)
        os_name, hostname = announced.groups() if announced else unannounced
        machine.say(f"iPXE: loading the installer of {os_name}")
        _install(machine, _fetch_config(machine, kernel_line), os_name, hostname)
    except NetbootError as exc:
        machine.say(f"Network boot failed: {exc}; the machine stops here")
        logger.warning("simlab: machine %s: network boot failed: %s", machine.port, exc)
