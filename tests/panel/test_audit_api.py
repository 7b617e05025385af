from panel.models import AuditEvent


def test_audit_events_are_for_staff_only(anonymous_api, owner_api):
    assert anonymous_api.get("/api/v1/audit-events/").status_code == 401
    assert owner_api.get("/api/v1/audit-events/").status_code == 403


def test_admin_reads_who_did_what_from_where(
    admin_api, free_server, customer, django_assert_max_num_queries
):
    admin_api.post(
        f"/api/v1/servers/{free_server.pk}/owner/",
        {"owner": customer.pk},
        format="json",
        REMOTE_ADDR="198.51.100.23",
    )
    with django_assert_max_num_queries(4):
        response = admin_api.get("/api/v1/audit-events/?action=server.assign_owner")
    [event] = response.json()["results"]
    assert event["actor_email"] == "staff@example.test"
    assert event["source_ip"] == "198.51.100.23"
    assert event["target_type"] == "inventory.server"
    assert event["target_id"] == str(free_server.pk)
    assert event["detail"] == {"owner": customer.email}


def test_audit_events_cannot_be_changed_through_the_api(admin_api):
    event = AuditEvent.objects.create(action="x")
    assert admin_api.delete(f"/api/v1/audit-events/{event.pk}/").status_code == 405
    assert admin_api.post("/api/v1/audit-events/", {}, format="json").status_code == 405


def test_audit_filters_by_target_and_time(admin_api, free_server):
    response = admin_api.get(
        f"/api/v1/audit-events/?target_type=inventory.server&target_id={free_server.pk}"
        "&since=2000-01-01T00:00:00Z"
    )
    assert [e["action"] for e in response.json()["results"]] == ["server.enrol"]
    assert admin_api.get("/api/v1/audit-events/?since=yesterday").status_code == 400
