from django_q.brokers import get_broker

from provisioning import services
from provisioning.models import Operation
from provisioning.tasks import run_operation
from tests.factories import make_server


def queued_power_on(server, actor) -> Operation:
    return services.request_power(actor=actor, server=server, action="on")


def test_anonymous_gets_401_on_operations(anonymous_api):
    assert anonymous_api.get("/api/v1/operations/").status_code == 401


def test_customers_see_only_operations_on_their_servers(
    owner_api, other_api, admin, customer, other_customer
):
    mine = queued_power_on(make_server(owner=customer), admin)
    theirs = queued_power_on(make_server(owner=other_customer), admin)
    assert [o["id"] for o in owner_api.get("/api/v1/operations/").json()["results"]] == [mine.pk]
    assert owner_api.get(f"/api/v1/operations/{theirs.pk}/").status_code == 404
    assert other_api.get(f"/api/v1/operations/{mine.pk}/").status_code == 404


def test_admin_filters_operations_in_bounded_queries(
    admin_api, admin, django_assert_max_num_queries
):
    servers = [make_server() for _ in range(12)]
    ops = [queued_power_on(server, admin) for server in servers]
    with django_assert_max_num_queries(5):
        response = admin_api.get("/api/v1/operations/?state=queued&kind=power_on")
    assert response.json()["count"] == 12
    one = admin_api.get(f"/api/v1/operations/?server={servers[0].pk}").json()["results"]
    assert [o["id"] for o in one] == [ops[0].pk]
    assert admin_api.get("/api/v1/operations/?state=bogus").status_code == 400


def test_an_operation_shows_its_event_log(owner_api, lab_server, customer):
    op = queued_power_on(lab_server, customer)
    run_operation(op.pk)
    body = owner_api.get(f"/api/v1/operations/{op.pk}/").json()
    assert body["state"] == "succeeded", body
    assert body["progress"] == 100
    assert body["requested_by"] == {"id": customer.pk, "email": customer.email}
    messages = [e["message"] for e in body["events"]]
    assert messages[-1] == "The BMC reports the server on."
    assert any(m.startswith("Sent chassis command: on") for m in messages)


def test_a_queued_operation_can_be_cancelled_and_then_never_runs(
    owner_api, lab_server, customer, simlab
):
    op = queued_power_on(lab_server, customer)
    response = owner_api.post(f"/api/v1/operations/{op.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["state"] == "cancelled"
    run_operation(op.pk)
    assert Operation.objects.get(pk=op.pk).state == "cancelled"
    assert simlab.machine(lab_server.lab_port)["power"] == "off"
    again = owner_api.post(f"/api/v1/operations/{op.pk}/cancel/")
    assert again.status_code == 409
    assert "already ended" in again.json()["detail"]


def test_a_running_power_operation_cannot_be_cancelled(owner_api, admin, customer):
    op = queued_power_on(make_server(owner=customer), admin)
    Operation.objects.filter(pk=op.pk).update(state="running")
    response = owner_api.post(f"/api/v1/operations/{op.pk}/cancel/")
    assert response.status_code == 409
    assert "cannot be taken back" in response.json()["detail"]


def test_others_cannot_cancel(other_api, admin, customer):
    op = queued_power_on(make_server(owner=customer), admin)
    assert other_api.post(f"/api/v1/operations/{op.pk}/cancel/").status_code == 404
    assert Operation.objects.get(pk=op.pk).state == "queued"


def test_a_request_queues_a_django_q_task_on_commit(
    owner_api, lab_server, django_capture_on_commit_callbacks
):
    broker = get_broker()
    before = broker.queue_size()
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_api.post(
            f"/api/v1/servers/{lab_server.pk}/power/", {"action": "on"}, format="json"
        )
    assert response.status_code == 202
    assert broker.queue_size() == before + 1


def test_a_server_with_an_operation_in_progress_cannot_be_deleted(admin_api, admin):
    server = make_server()
    queued_power_on(server, admin)
    response = admin_api.delete(f"/api/v1/servers/{server.pk}/")
    assert response.status_code == 409
    assert "has an active operation #" in response.json()["detail"]
    assert Operation.objects.filter(server=server).count() == 1
