"""The network side with real processes: billing's suspend and resume over HTTP (gunicorn),
run by a real `qcluster` worker against simlab's SNMP switch and PDU agents, checked at the
agents; the suspended server's customer refused over HTTP too."""

import pytest

from panel import services as people
from provisioning.models import Operation
from tests.e2e.test_recovery import api_status, ended
from tests.e2e.workers import Gunicorn, Qcluster

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_billing_suspends_and_resumes_over_http_and_a_worker_drives_the_switch(
    simlab, cabled_server, admin, customer
):
    lab_server, cable = cabled_server, cabled_server.cable
    _, staff = people.create_api_token(actor=admin, user=admin, name="billing")
    _, owner = people.create_api_token(actor=customer, user=customer, name="mine")
    web, worker = Gunicorn(), Qcluster()
    try:
        server = f"{web.url}/api/v1/servers/{lab_server.pk}"
        assert api_status(f"{server}/suspend/", staff, {"reason": "Invoice 9 unpaid"}) == 202
        [suspend] = ended(Operation.objects.filter(kind="suspend").values_list("pk", flat=True))
        assert suspend.state == "succeeded", suspend.error
        assert simlab.port_at_switch(cable.data_if_index)["admin"] == "down"
        assert simlab.port_at_switch(cable.bmc_if_index)["admin"] == "up"
        assert api_status(f"{server}/power/", owner, {"action": "on"}) == 409

        assert api_status(f"{server}/resume/", staff, {}) == 202
        [resume] = ended(Operation.objects.filter(kind="resume").values_list("pk", flat=True))
        assert resume.state == "succeeded", resume.error
        assert simlab.port_at_switch(cable.data_if_index)["admin"] == "up"

        assert api_status(f"{server}/pdu-power/", staff, {"action": "cycle"}) == 202
        [cycle] = ended(Operation.objects.filter(kind="pdu_cycle").values_list("pk", flat=True))
        assert cycle.state == "succeeded", cycle.error
        outlet = simlab.pdu()["outlets"][cable.outlet - 1]
        assert outlet["number"] == cable.outlet and outlet["power_state"] == "on"
    finally:
        worker.stop()
        web.stop()
