"""A billing module's whole order flow on the DCImanager v3-compatible API alone, over real
HTTP: log in, configurations, a new customer, a free server, its owner, an address, an OS
install polled to done, power, suspend and resume (checked at simlab's switch), a disk wipe,
and the release. A real `qcluster` worker runs the operations against simlab's BMC, switch
and machine; the machine boots from the live panel."""

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
from django_q.brokers import get_broker

from inventory import services as inventory
from provisioning.models import OsTemplate
from tests.e2e.workers import Qcluster
from tests.factories import ED25519, make_pool

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("shipped_os_templates"),
]


class Billing:
    """What a DCImanager billing module does: a session from email and password, then every
    call with the `ses6` cookie, `x-xsrf-token` and `isp-box-instance: true`."""

    def __init__(self, base_url: str, email: str, password: str):
        self.base_url = base_url
        self.session = self._send(
            "POST", "/api/auth/v4/public/token", {"email": email, "password": password}
        )[1]["token"]

    def _send(self, method: str, path: str, body: dict | None = None, session: str = ""):
        headers = {"isp-box-instance": "true"}
        if session:
            headers |= {"Cookie": f"ses6={session}", "x-xsrf-token": session}
        request = urllib.request.Request(  # noqa: S310 - the panel on loopback
            self.base_url + path,
            data=json.dumps(body).encode() if body is not None else None,
            headers=headers,
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def call(self, method: str, path: str, body: dict | None = None, **query) -> dict:
        if query:
            path += "?" + urllib.parse.urlencode(query)
        status, answer = self._send(method, "/api/dci/v3" + path, body, self.session)
        assert status == 200, (method, path, answer)
        return answer

    def finished(self, server_id: int, task: int, timeout: float = 90) -> dict:
        """Poll the server until its operation is the task and has ended, as billing does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self.call("GET", f"/server/{server_id}")
            operation = server["operation"]
            if (
                operation
                and operation["id"] == task
                and operation["status"] in ("complete", "fail")
            ):
                return server
            time.sleep(0.5)
        raise AssertionError(f"task {task} did not end in {timeout} s: {server['operation']}")


def test_a_billing_module_sells_runs_and_takes_back_a_server(
    simlab, cabled_server, admin, customer, live_server
):
    get_broker().purge_queue()
    lab_server, cable = cabled_server, cabled_server.cable
    inventory.release_owner(actor=admin, server=lab_server)  # on the shelf, free to sell
    pool = make_pool(cidr="203.0.113.0/24", first="203.0.113.10", last="203.0.113.50")
    simlab.change(lab_server.lab_port, power="on", boot_url=live_server.url, install_seconds=1)
    alma = OsTemplate.objects.get(name="AlmaLinux 9").pk
    worker = Qcluster(PANEL_BMC_TIMEOUT=3)
    try:
        billing = Billing(live_server.url, admin.email, "a-long-test-password")
        configuration = lab_server.profile.name
        counts = billing.call("GET", "/server/configuration")["list"]
        assert {"configuration": configuration, "free_server_count": 1} in counts

        user = billing.call(
            "POST",
            "/user",
            {"email": "new@example.com", "password": "a-long-pass-phrase", "role": "@user"},
        )["id"]
        [free] = billing.call(
            "GET",
            "/server",
            where=f"(owner_email IS null) AND is_new EQ false AND configuration EQ '{configuration}'",
            orderby="name asc",
            limit="0,1",
        )["list"]
        assert free["id"] == lab_server.pk
        server = f"/server/{free['id']}"
        assert billing.call("POST", f"{server}/owner", {"owner": user}) == {"id": free["id"]}
        ip = billing.call(
            "POST", f"{server}/ip", {"family": "ipv4", "ip_pool": pool.pk, "set_as_main_ipv4": True}
        )
        assert billing.call("GET", server)["main_ipv4"] == ip["id"]

        task = billing.call(
            "POST",
            f"{server}/operation_os",
            {
                "hdd_raid": "raid_1",
                "os_template_id": alma,
                "password": "a-long-root-pass-phrase",
                "ssh_pub_keys": [ED25519],
            },
        )["task"]
        done = billing.finished(free["id"], task)
        assert done["operation"]["status"] == "complete", done["operation"]
        assert done["os_template"]["name"] == "AlmaLinux 9"

        for call, power in (("power_off", "off"), ("power_on", "on")):
            task = billing.call("POST", f"{server}/{call}", {})["task"]
            done = billing.finished(free["id"], task)
            assert done["operation"]["status"] == "complete", done["operation"]
            assert done["ipmi"]["status"] == power

        task = billing.call("POST", f"{server}/suspend", {})["task"]
        assert billing.call("GET", server)["state"] in ("suspending", "suspended")
        assert billing.finished(free["id"], task)["state"] == "suspended"
        assert simlab.port_at_switch(cable.data_if_index)["admin"] == "down"
        task = billing.call("POST", f"{server}/resume", {})["task"]
        assert billing.finished(free["id"], task)["state"] == "ok"
        assert simlab.port_at_switch(cable.data_if_index)["admin"] == "up"

        task = billing.call("POST", f"{server}/operation_clear_hdd", {"clear_hdd": "simple"})[
            "task"
        ]
        done = billing.finished(free["id"], task)
        assert done["operation"]["status"] == "complete", done["operation"]
        assert done["os_template"] is None  # the disks are blank

        billing.call("POST", f"{server}/ip/{ip['id']}", {})
        assert billing.call("DELETE", f"{server}/owner") == {"id": free["id"]}
        released = billing.call("GET", server)
        assert (released["owner"], released["ip"]) == (None, [])
    finally:
        worker.kill()
        simlab.change(lab_server.lab_port, boot_url="")
