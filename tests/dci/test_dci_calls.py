"""Each call of ISPsystem's "Examples of API use" page (../shared/seeds/001), replayed as it is
written there: its path without a trailing slash, its headers, its body posted with curl's
`-d`, and the answer's documented shape."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.models import IpAddress, Server
from panel.models import AuditEvent, User
from provisioning.models import Operation, OsTemplate
from tests.conftest import token_client
from tests.factories import ED25519, make_pool, make_server

pytestmark = pytest.mark.django_db

SERVER_FIELDS = {
    "operation", "domain", "id", "os_template", "hardware_info", "perform_info",
    "configuration", "settings", "state", "state_info", "ip", "switch_connection",
    "pdu_connection", "ipmi", "intel_amt", "location", "location_id", "mac", "main_ipv4",
    "main_ipv6", "name", "platform", "rack", "unit", "chassis", "slot", "owner",
    "owner_email", "diag_error", "is_new",
}  # fmt: skip
IP_FIELDS = {"domain", "family", "gateway", "id", "name", "network", "status", "status_info"}


def test_free_servers_per_configuration(staff_dci, racked_server, free_server):
    answer = staff_dci.get("/api/dci/v3/server/configuration")
    assert answer.status_code == 200
    rows = {row["configuration"]: row["free_server_count"] for row in answer.json()["list"]}
    assert rows[free_server.profile.name] == 1
    assert rows[racked_server.profile.name] == 0  # owned: not free
    assert set(answer.json()["list"][0]) == {"configuration", "free_server_count"}


def test_server_list_carries_dcimanagers_fields_with_our_data(staff_dci, racked_server):
    answer = staff_dci.get("/api/dci/v3/server")
    assert answer.status_code == 200
    (server,) = answer.json()["list"]
    assert set(server) == SERVER_FIELDS
    main_ip = IpAddress.objects.get(server=racked_server)
    assert server["id"] == racked_server.pk
    assert server["name"] == "web-1"
    assert server["configuration"] == racked_server.profile.name
    assert server["state"] == "ok" and server["state_info"] == ""
    assert server["owner"] == {"id": racked_server.owner_id, "email": "owner@example.test"}
    assert server["owner_email"] == "owner@example.test"
    assert server["location"] == {
        "geolocation": "Hanauer Landstrasse 302",
        "id": racked_server.rack.location_id,
        "name": "FRA1",
        "userspace": None,
    }
    assert server["location_id"] == racked_server.rack.location_id
    assert server["rack"] == {"id": racked_server.rack_id, "name": "A01", "size": 42}
    assert server["unit"] == 7
    assert server["mac"] == racked_server.mac
    assert server["main_ipv4"] == main_ip.pk and server["main_ipv6"] is None
    assert server["ip"] == [
        {
            "domain": "",
            "family": "ipv4",
            "gateway": "192.0.2.1",
            "id": main_ip.pk,
            "name": main_ip.address,
            "network": "192.0.2.0/24",
            "status": "ok",
            "status_info": {},
        }
    ]
    ports = {port["description"]: port for port in server["switch_connection"]}
    assert ports["Gi1/0/7"]["admin_status"] == "up"
    assert ports["Gi1/0/7"]["is_ipmi_connection"] is False
    assert ports["Gi1/0/7"]["do_not_collect_traffic"] is False
    assert ports["Gi1/0/48"]["is_ipmi_connection"] is True
    assert ports["Gi1/0/7"]["switch"] == racked_server.switch_ports.first().switch_id
    outlet = racked_server.pdu_outlets.get()
    assert server["pdu_connection"] == {
        "port_id": outlet.pk,
        "port_identity": "7",
        "pdu_id": outlet.pdu_id,
        "pdu_name": outlet.pdu.name,
        "connection_id": outlet.pk,
        "power_status": "up",
    }
    bmc = racked_server.bmc
    assert server["ipmi"] == {
        "address": bmc.address,
        "id": bmc.pk,
        "status": "unknown",
        "status_info": {},
        "type": "IPMI v2(lanplus)",
        "web_url": "",
    }
    # No data: the documented empty values, nothing invented.
    assert server["operation"] is None and server["os_template"] is None
    assert server["hardware_info"] == {} and server["diag_error"] == []
    assert server["platform"] is None and server["chassis"] is None
    assert server["intel_amt"] is None and server["domain"] == ""
    assert server["is_new"] is False
    assert answer.json()["size"] == 1


def test_server_by_id_and_its_operation_and_os(admin, staff_dci, racked_server):
    template = OsTemplate.objects.filter(is_utility=False).first()
    Server.objects.filter(pk=racked_server.pk).update(current_os=template.name)
    staff_dci.post(f"/api/dci/v3/server/{racked_server.pk}/power_on")
    answer = staff_dci.get(f"/api/dci/v3/server/{racked_server.pk}")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == SERVER_FIELDS
    operation = Operation.objects.get(server=racked_server)
    assert body["operation"] == {
        "id": operation.pk,
        "name": "power_on",
        "status": "pending",
        "status_info": {},
        "progress_info": [{"step": "", "progress": 0}],
    }
    assert body["ipmi"]["status"] == "in_progress"
    assert body["os_template"] == {
        "id": template.pk,
        "name": template.name,
        "tags": list(template.tags),
    }


@pytest.mark.parametrize("path", ["/api/dci/v3/server/{pk}", "/api/dci/v3/server"])
def test_a_servers_operation_is_read_before_the_server(staff_dci, racked_server, path):
    """An operation stores what it did before it ends: read after it, the server shows at
    least that. Read before it, a billing module polling its power-off saw the task complete
    beside the server still on (seen in CI)."""
    staff_dci.post(f"/api/dci/v3/server/{racked_server.pk}/power_on")

    with CaptureQueriesContext(connection) as queries:
        assert staff_dci.get(path.format(pk=racked_server.pk)).status_code == 200

    statements = [query["sql"] for query in queries]
    reads_operations = next(
        n for n, sql in enumerate(statements) if 'FROM "provisioning_operation"' in sql
    )
    reads_servers = next(
        n for n, sql in enumerate(statements) if '"inventory_bmc"."power_state"' in sql
    )
    assert reads_operations < reads_servers


def test_users_list_and_adding_one(staff_dci, racked_server, admin, customer):
    answer = staff_dci.get("/api/dci/v3/user")
    assert answer.status_code == 200
    rows = {row["email"]: row for row in answer.json()["list"]}
    assert rows["owner@example.test"] == {
        "id": customer.pk,
        "email": "owner@example.test",
        "server_count": 1,
        "roles": ["@user"],
        "vlans_per_user": None,
    }
    assert rows["staff@example.test"]["roles"] == ["@admin"]

    body = {
        "email": "admin@example.com",
        "full_name": "name",
        "password": "a-long-pass-phrase",
        "phone_number": "+49 69 1234",
        "role": "@user",
    }
    answer = staff_dci.post("/api/dci/v3/user", body)
    assert answer.status_code == 200
    created = User.objects.get(pk=answer.json()["id"])
    assert set(answer.json()) == {"id"}
    assert (created.email, created.full_name, created.phone, created.role) == (
        "admin@example.com",
        "name",
        "+49 69 1234",
        "customer",
    )
    assert created.check_password("a-long-pass-phrase")
    assert AuditEvent.objects.filter(action="user.create", target_id=str(created.pk)).exists()


def test_a_user_with_a_taken_email_or_an_unknown_field_is_refused_with_the_field(staff_dci):
    answer = staff_dci.post("/api/dci/v3/user", {"email": "staff@example.test", "role": "@user"})
    assert answer.status_code == 400
    assert answer.json()["error"]["value"]["email"]
    answer = staff_dci.post("/api/dci/v3/user", {"email": "x@example.test", "roles": "@user"})
    assert answer.status_code == 400
    assert answer.json()["error"]["value"] == {"roles": ["Unknown field."]}


def test_owner_assignment_and_release(staff_dci, free_server, customer):
    path = f"/api/dci/v3/server/{free_server.pk}/owner"
    answer = staff_dci.post(path, {"owner": customer.pk})
    assert (answer.status_code, answer.json()) == (200, {"id": free_server.pk})
    free_server.refresh_from_db()
    assert free_server.owner == customer
    answer = staff_dci.delete(path)
    assert (answer.status_code, answer.json()) == (200, {"id": free_server.pk})
    free_server.refresh_from_db()
    assert free_server.owner is None
    answer = staff_dci.post(path, {"owner": 999999})
    assert answer.status_code == 400 and "owner" in answer.json()["error"]["value"]


@pytest.mark.parametrize(
    "call, kind",
    [
        ("suspend", "suspend"),
        ("power_on", "power_on"),
        ("power_off", "power_off"),
        ("power_reset", "power_reset"),
    ],
)
def test_task_calls_answer_the_server_and_its_task(staff_dci, racked_server, call, kind):
    answer = staff_dci.post(f"/api/dci/v3/server/{racked_server.pk}/{call}")
    assert answer.status_code == 200
    operation = Operation.objects.get(server=racked_server)
    assert answer.json() == {"id": racked_server.pk, "task": operation.pk}
    assert operation.kind == kind and operation.requested_by.email == "staff@example.test"


def test_resume_answers_its_task(staff_dci, racked_server):
    Server.objects.filter(pk=racked_server.pk).update(suspended=True)
    answer = staff_dci.post(f"/api/dci/v3/server/{racked_server.pk}/resume")
    operation = Operation.objects.get(server=racked_server, kind="resume")
    assert (answer.status_code, answer.json()) == (
        200,
        {"id": racked_server.pk, "task": operation.pk},
    )


def test_ip_lists_allocation_and_deletion(staff_dci, racked_server, admin):
    pool = make_pool(cidr="198.51.100.0/24", first="198.51.100.10", last="198.51.100.20")
    answer = staff_dci.get("/api/dci/v3/ip")
    assert answer.status_code == 200
    (listed,) = answer.json()["list"]
    assert set(listed) == IP_FIELDS | {"server"} and listed["server"] == "web-1"

    path = f"/api/dci/v3/server/{racked_server.pk}/ip"
    body = {
        "domain": "web-1.example.com",
        "family": "ipv4",
        "ip_name": "198.51.100.15",
        "ip_net": pool.network_id,
        "ip_pool": pool.pk,
        "set_as_main_ipv4": True,
        "userspace": 0,
    }
    answer = staff_dci.post(path, body)
    assert answer.status_code == 200
    allocated = IpAddress.objects.get(address="198.51.100.15")
    assert answer.json() == {"id": allocated.pk, "task": None}
    assert allocated.server == racked_server and allocated.is_main

    answer = staff_dci.get(path)
    names = [ip["name"] for ip in answer.json()["list"]]
    assert names[0] == "198.51.100.15" and len(names) == 2

    answer = staff_dci.post(f"{path}/{allocated.pk}")
    assert (answer.status_code, answer.json()) == (200, {"id": allocated.pk, "task": None})
    assert not IpAddress.objects.filter(pk=allocated.pk).exists()


def test_ip_allocation_names_dcimanagers_fields_in_its_errors(staff_dci, racked_server):
    path = f"/api/dci/v3/server/{racked_server.pk}/ip"
    answer = staff_dci.post(path, {"ip_pool": 424242})
    assert answer.status_code == 400 and "ip_pool" in answer.json()["error"]["value"]
    pool = make_pool(cidr="198.51.100.0/24", first="198.51.100.10", last="198.51.100.20")
    answer = staff_dci.post(path, {"ip_pool": pool.pk, "ip_name": "198.51.100.99"})
    assert answer.status_code == 400 and "ip_name" in answer.json()["error"]["value"]


def test_networks_and_pools(staff_dci, racked_server):
    answer = staff_dci.get("/api/ip/v3/ipnet")
    assert answer.status_code == 200
    (network,) = answer.json()["list"]
    assert network == {
        "id": network["id"],
        "name": network["name"],
        "family": 2,
        "mask": 24,
        "gateway": "192.0.2.1",
        "userspace": None,
        "vlan": "",
        "note": "",
        "size": "256",
        "using_ip": "1",
        "total_ip": "11",
    }
    answer = staff_dci.get("/api/ip/v3/ippool")
    (pool,) = answer.json()["list"]
    assert {key: pool[key] for key in ("is_public", "using_ip", "using_ipv4", "total_ipv6")} == {
        "is_public": "true",
        "using_ip": "1",
        "using_ipv4": "1",
        "total_ipv6": "0",
    }
    assert pool["total_ip"] == pool["total_ipv4"] == "11"  # .10-.20


def test_diagnostics_as_the_example_sends_it(staff_dci, racked_server, shipped_os_templates):
    body = {"setup_ipmi": False, "ipmi_pool": 0, "os_template_id": 0, "clear_hdd": "none"}
    answer = staff_dci.post(f"/api/dci/v3/server/{racked_server.pk}/operation_diag", body)
    assert answer.status_code == 200
    operation = Operation.objects.get(pk=answer.json()["task"])
    assert operation.kind == "diagnostics" and operation.params["wipe"] == "none"
    assert answer.json()["id"] == racked_server.pk


def test_diagnostics_refuses_what_the_panel_cannot_do(staff_dci, racked_server):
    path = f"/api/dci/v3/server/{racked_server.pk}/operation_diag"
    answer = staff_dci.post(path, {"setup_ipmi": True})
    assert answer.status_code == 400 and "setup_ipmi" in answer.json()["error"]["value"]
    installable = OsTemplate.objects.filter(is_utility=False).first()
    answer = staff_dci.post(path, {"os_template_id": installable.pk})
    assert answer.status_code == 400 and "os_template_id" in answer.json()["error"]["value"]


def test_clear_hdd(staff_dci, racked_server):
    path = f"/api/dci/v3/server/{racked_server.pk}/operation_clear_hdd"
    answer = staff_dci.post(path, {"clear_hdd": "everything"})
    assert answer.status_code == 400 and "clear_hdd" in answer.json()["error"]["value"]
    answer = staff_dci.post(path, {"clear_hdd": "simple"})
    assert answer.status_code == 200
    operation = Operation.objects.get(pk=answer.json()["task"])
    assert (operation.kind, operation.params["wipe"]) == ("wipe", "simple")


def test_os_install_with_key_texts(owner_dci, racked_server):
    template = OsTemplate.objects.filter(is_utility=False, is_public=True).first()
    body = {
        "hdd_raid": "raid_1",
        "os_template_id": template.pk,
        "password": "a-long-root-pass-phrase",
        "ssh_pub_keys": [ED25519, ""],  # a module's optional second key, left empty
    }
    answer = owner_dci.post(f"/api/dci/v3/server/{racked_server.pk}/operation_os", body)
    assert answer.status_code == 200
    operation = Operation.objects.get(pk=answer.json()["task"])
    assert operation.kind == "install" and operation.params["raid"] == "raid_1"
    assert operation.params["ssh_keys"] == [ED25519]
    assert "a-long-root-pass-phrase" not in str(operation.params)


def test_os_install_errors_name_dcimanagers_fields(owner_dci, racked_server):
    template = OsTemplate.objects.filter(is_utility=False, is_public=True).first()
    path = f"/api/dci/v3/server/{racked_server.pk}/operation_os"
    answer = owner_dci.post(path, {"os_template_id": template.pk, "hdd_raid": "raid_5"})
    assert answer.status_code == 400
    assert {"hdd_raid", "password"} <= set(answer.json()["error"]["value"])
    answer = owner_dci.post(path, {"os_template_id": template.pk, "ssh_pub_keys": ["nonsense"]})
    assert answer.status_code == 400 and "ssh_pub_keys" in answer.json()["error"]["value"]
    answer = owner_dci.post(path, {"os_template_id": 0, "password": "a-long-root-pass-phrase"})
    assert answer.status_code == 400 and "os_template_id" in answer.json()["error"]["value"]


def test_a_trailing_slash_is_accepted_too(staff_dci, racked_server):
    assert staff_dci.get("/api/dci/v3/server/").status_code == 200
    assert staff_dci.get(f"/api/dci/v3/server/{racked_server.pk}/").status_code == 200


# Who may do what: the same rules as /api/v1/.


def test_anonymous_gets_401_in_the_error_envelope(client, racked_server):
    answer = client.get("/api/dci/v3/server")
    assert answer.status_code == 401
    assert set(answer.json()["error"]) >= {"code", "msg"}


def test_customers_see_only_their_own_servers_and_addresses(owner_dci, other_dci, racked_server):
    assert [row["id"] for row in owner_dci.get("/api/dci/v3/server").json()["list"]] == [
        racked_server.pk
    ]
    assert other_dci.get("/api/dci/v3/server").json()["list"] == []
    assert other_dci.get("/api/dci/v3/ip").json()["list"] == []
    for path in ("", "/ip"):
        assert other_dci.get(f"/api/dci/v3/server/{racked_server.pk}{path}").status_code == 404
    for call in ("power_on", "operation_clear_hdd", "suspend", "owner", "ip"):
        answer = other_dci.post(f"/api/dci/v3/server/{racked_server.pk}/{call}")
        assert answer.status_code == 404, call
    assert not Operation.objects.exists()


def test_owners_power_their_server_but_staff_calls_are_refused(owner_dci, racked_server):
    assert owner_dci.post(f"/api/dci/v3/server/{racked_server.pk}/power_reset").status_code == 200
    Operation.objects.all().delete()
    for call in ("suspend", "resume", "ip", "owner"):
        answer = owner_dci.post(f"/api/dci/v3/server/{racked_server.pk}/{call}")
        assert answer.status_code == 403, call
    for path in ("/api/dci/v3/user", "/api/ip/v3/ipnet", "/api/ip/v3/ippool"):
        assert owner_dci.get(path).status_code == 403
    assert not Operation.objects.exists()


def test_a_suspended_customer_is_told_why(owner_dci, staff_dci, racked_server):
    staff_dci.post(f"/api/dci/v3/server/{racked_server.pk}/suspend")
    Operation.objects.all().delete()
    answer = owner_dci.post(f"/api/dci/v3/server/{racked_server.pk}/power_on")
    assert answer.status_code == 409
    assert "suspended" in answer.json()["error"]["msg"]


def test_the_server_list_costs_the_same_queries_for_many_servers(
    staff_dci, racked_server, django_assert_max_num_queries
):
    for _ in range(20):
        make_server(owner=racked_server.owner)
    with django_assert_max_num_queries(14):
        answer = staff_dci.get("/api/dci/v3/server")
    assert answer.json()["size"] == 21


def test_a_retried_call_with_an_idempotency_key_starts_one_task(staff_dci, racked_server):
    path = f"/api/dci/v3/server/{racked_server.pk}/power_reset"
    first = staff_dci.post(path, HTTP_IDEMPOTENCY_KEY="order-77-reset")
    again = staff_dci.post(path, HTTP_IDEMPOTENCY_KEY="order-77-reset")
    assert first.json() == again.json() and again["Idempotent-Replayed"] == "true"
    assert Operation.objects.count() == 1


def test_an_unknown_path_under_dcimanagers_api_answers_in_its_envelope(staff_dci):
    for path in ("/api/dci/v3/server/abc", "/api/dci/v3/server/9999999999", "/api/ip/v3/nothing"):
        answer = staff_dci.get(path)
        assert answer.status_code == 404
        assert answer.json() == {"error": {"code": 404, "msg": "Not found.", "value": None}}
    assert staff_dci.get("/api/v1/nothing/").json() == {"detail": "Not found."}


def test_a_pool_outside_the_network_asked_for_is_refused(staff_dci, racked_server):
    pool = make_pool(cidr="198.51.100.0/24", first="198.51.100.10", last="198.51.100.20")
    other = make_pool(cidr="203.0.113.0/24", first="203.0.113.10", last="203.0.113.20")
    answer = staff_dci.post(
        f"/api/dci/v3/server/{racked_server.pk}/ip",
        {"ip_pool": pool.pk, "ip_net": other.network_id},
    )
    assert answer.status_code == 400 and "ip_net" in answer.json()["error"]["value"]


def test_what_the_pages_template_sends_for_any_address_is_any_address(staff_dci, racked_server):
    pool = make_pool(cidr="198.51.100.0/24", first="198.51.100.10", last="198.51.100.20")
    body = {
        "domain": "domain_name",
        "family": "ipv4",
        "ip_name": "",
        "ip_net": 0,
        "ip_pool": pool.pk,
        "set_as_main_ipv4": False,
        "userspace": 0,
    }
    answer = staff_dci.post(f"/api/dci/v3/server/{racked_server.pk}/ip", body)
    assert answer.status_code == 200
    assert IpAddress.objects.get(pk=answer.json()["id"]).address == "198.51.100.10"


def test_clearing_with_none_clears_nothing_and_starts_no_task(staff_dci, racked_server):
    body = {"clear_hdd": "none"}
    answer = staff_dci.post(f"/api/dci/v3/server/{racked_server.pk}/operation_clear_hdd", body)
    assert (answer.status_code, answer.json()) == (200, {"id": racked_server.pk, "task": None})
    assert not Operation.objects.exists()


def test_an_api_token_is_used_beside_a_stale_session_cookie(admin, racked_server):
    api = token_client(admin)
    api.cookies["ses6"] = "stale.session"
    assert api.get("/api/dci/v3/server").status_code == 200
