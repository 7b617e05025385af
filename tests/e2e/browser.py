"""What the browser tests share: Debian's Chromium driven by Playwright, pages that fail
on any console error, screenshots, the axe-core audit and the check that a page fits the
window. Its fixtures (`chromium`, `page`, `worker`) are tests/conftest.py's."""

import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.utils import timezone

from inventory import ipam
from inventory.models import Bmc, Server
from panel import services as people
from panel.models import ApiToken
from provisioning.models import Operation
from tests.e2e.workers import Qcluster
from tests.factories import ED25519, make_pool, make_server

try:
    from playwright import sync_api
except ImportError:  # requirements-dev.txt; the browser tests skip without it
    sync_api = None

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
DOCS_SCREENSHOTS = ROOT / "docs" / "screenshots"  # the README shows these
AXE = "/static/vendor/axe-core-4.14.1/axe.min.js"
PASSWORD = "a-long-test-password"
needs_chromium = pytest.mark.skipif(
    sync_api is None or not shutil.which(CHROMIUM), reason="Playwright and Debian's chromium"
)
# A browser test module's `pytestmark`: live server, real worker, the shipped OS templates.
BROWSER_TEST_MARKS = [
    pytest.mark.e2e,
    needs_chromium,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_os_templates"),
]


@pytest.fixture(scope="module")
def chromium():
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between page actions are ordinary blocking calls, which Django would otherwise refuse.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@contextmanager
def open_page(chromium, live_server, width: int = 1280, height: int = 900, **options):
    """A page of a fresh context; fails if the page logged an error (a script error, or
    anything the Content-Security-Policy refused)."""
    context = chromium.new_context(
        base_url=live_server.url, viewport={"width": width, "height": height}, **options
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors = []
    page.on(
        "console",
        lambda message: (
            message.type == "error"
            # axe-core itself sets inline styles on some pages to measure them; the
            # Content-Security-Policy refuses those, which is the page working as it should.
            and not message.location.get("url", "").endswith(AXE)
            and errors.append(f"{message.text} ({message.location.get('url')})")
        ),
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.console_errors = errors
    yield page
    context.close()
    assert not errors, errors


@pytest.fixture
def page(chromium, live_server):
    with open_page(chromium, live_server) as page:
        yield page


@pytest.fixture
def worker(smtp_server):
    """A real worker; its mails go to the loopback SMTP server."""
    cluster = Qcluster(PANEL_BMC_TIMEOUT=3, PANEL_POWER_CONFIRM_SECONDS=10, **smtp_server.settings)
    yield cluster
    cluster.kill()  # the test is over; a graceful stop takes django-q2 up to 20 s


def shoot(page, name: str, folder: Path = SCREENSHOTS) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=folder / f"{name}.png", full_page=True)


def axe_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page, one line each."""
    page.add_script_tag(url=AXE)  # the panel serves it, so the CSP allows it
    return page.evaluate(
        """async () => {
            const results = await axe.run(document, { resultTypes: ["violations"] });
            return results.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => `${v.id} (${v.impact}): ${v.help} at `
                    + v.nodes.map((n) => n.target.join(" ")).join(", "));
        }"""
    )


# The innermost elements that reach past the window's right edge.
WIDER_THAN_THE_WINDOW = """(() => [...document.body.querySelectorAll("*")]
    .filter((e) => e.getBoundingClientRect().right > window.innerWidth
        && ![...e.children].some((c) => c.getBoundingClientRect().right > window.innerWidth))
    .slice(0, 5)
    .map((e) => `${e.tagName.toLowerCase()}.${[...e.classList].join(".")}`
        + ` (${Math.round(e.getBoundingClientRect().right)} px)`)
    .join(", "))()"""


def page_problems(page, name: str, width: int) -> list[str]:
    """What is wrong with the page as shown: wider than the window (and what reaches past
    its edge), and axe-core's serious and critical findings."""
    problems = []
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        problems.append(
            f"{name} at {width} px: {overflow} px wider than the window, past its edge: "
            + page.evaluate(WIDER_THAN_THE_WINDOW)
        )
    problems.extend(f"{name} at {width} px: {found}" for found in axe_violations(page))
    return problems


@dataclass
class Fleet:
    server: Server  # web-01: Debian 12 installed, an address, powered on
    install: Operation  # its finished install, with its event log
    busy: Server  # db-02, with a power cycle running
    running: Operation
    token: ApiToken  # the customer's


def sample_fleet(admin, customer) -> Fleet:
    """Something on every page the audits look at, the customer's and staff's."""
    server = make_server(actor=admin, owner=customer, name="web-01")
    Server.objects.filter(pk=server.pk).update(current_os="Debian 12")
    ipam.allocate_ip(actor=admin, server=server, pool=make_pool())
    Bmc.objects.filter(server=server).update(power_state="on", power_state_read_at=timezone.now())
    people.add_ssh_key(actor=customer, public_key=ED25519)
    token, _ = people.create_api_token(actor=customer, user=customer, name="billing")
    params = {"os_name": "Debian 12", "ssh_keys": [ED25519], "ssh_key_names": ["alice@laptop"]}
    install = Operation.objects.create(
        server=server,
        kind="install",
        state="succeeded",
        progress=100,
        params={**params, "root_password": True},
        requested_by=customer,
        finished_at=timezone.now(),
    )
    for message in (
        "Started.",
        "Power-cycled the server.",
        "The machine booted from the network and fetched its boot script.",
        "Installer: Installation finished",
        "Debian 12 is installed; the server boots from its disk.",
    ):
        install.events.create(message=message)
    busy = make_server(actor=admin, owner=customer, name="db-02")
    running = Operation.objects.create(
        server=busy, kind="power_cycle", state="running", progress=40, requested_by=customer
    )
    return Fleet(server, install, busy, running, token)
