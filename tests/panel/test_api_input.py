"""The API's input contract: bodies are bounded JSON, unknown fields and query parameters are
refused, paths answer with or without their trailing slash."""

import pytest
from rest_framework import serializers

from inventory.models import IpAddress
from panel.api.serializers import RefusesUnknownFields
from panel.models import User
from tests.factories import make_pool

JSON = "application/json"


def power_url(server):
    return f"/api/v1/servers/{server.pk}/power/"


def test_deeply_nested_json_is_a_clear_400(owner_api, owned_server):
    response = owner_api.post(power_url(owned_server), "[" * 100_000, content_type=JSON)
    assert response.status_code == 400
    assert "nested deeper than" in response.json()["detail"]


def test_moderately_nested_json_is_still_read(admin_api, free_server):
    response = admin_api.patch(
        f"/api/v1/servers/{free_server.pk}/", {"bmc": {"username": "root"}}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["bmc"]["username"] == "root"


def test_a_body_over_the_upload_limit_is_a_clear_400(admin_api, free_server, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = admin_api.patch(
        f"/api/v1/servers/{free_server.pk}/", {"notes": "x" * 2000}, format="json"
    )
    assert response.status_code == 400
    assert "larger than 1000 bytes" in response.json()["detail"]
    free_server.refresh_from_db()
    assert free_server.notes == ""


def test_a_body_that_is_not_json_is_a_400(owner_api, owned_server):
    response = owner_api.post(power_url(owned_server), '{"action": ', content_type=JSON)
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


def test_other_content_types_are_refused(owner_api, owned_server):
    response = owner_api.post(power_url(owned_server), "action=on", content_type="text/plain")
    assert response.status_code == 415


@pytest.mark.parametrize(
    "body", ['{"action": "\\ud800"}', '{"\\udfff": "on"}', '{"action": ["on", "\\ud800x"]}']
)
def test_a_lone_surrogate_is_a_clear_400(owner_api, owned_server, body):
    response = owner_api.post(power_url(owned_server), body, content_type=JSON)
    assert response.status_code == 400
    assert "not valid Unicode" in response.json()["detail"]


def test_a_lone_surrogate_never_reaches_the_database(admin_api, free_server):
    response = admin_api.patch(
        f"/api/v1/servers/{free_server.pk}/", '{"notes": "a\\udc80b"}', content_type=JSON
    )
    assert response.status_code == 400


def test_escaped_characters_outside_the_bmp_are_fine(admin_api, free_server):
    response = admin_api.patch(
        f"/api/v1/servers/{free_server.pk}/", '{"notes": "rack \\ud83d\\udd25"}', content_type=JSON
    )
    assert response.status_code == 200
    assert response.json()["notes"] == "rack \N{FIRE}"


def test_an_install_with_unknown_fields_is_refused_naming_them(owner_api, owned_server):
    response = owner_api.post(
        f"/api/v1/servers/{owned_server.pk}/install/",
        {"os_template": 1, "hdd_raid": "raid_1", "ssh_pub_keys": ["ssh-ed25519 AAAA"]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["hdd_raid"] == ["Unknown field."]
    assert response.json()["ssh_pub_keys"] == ["Unknown field."]
    assert not owned_server.operations.exists()


def test_an_allocation_from_a_misspelt_pool_is_refused(admin_api, free_server):
    pool = make_pool()
    response = admin_api.post(
        f"/api/v1/servers/{free_server.pk}/ips/", {"ip_pool": pool.pk}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"ip_pool": ["Unknown field."]}
    assert not IpAddress.objects.exists()


def test_unknown_fields_of_a_nested_object_are_refused(admin_api, free_server):
    response = admin_api.patch(
        f"/api/v1/servers/{free_server.pk}/", {"bmc": {"pasword": "new"}}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"bmc": {"pasword": ["Unknown field."]}}


def test_read_only_fields_in_a_body_are_refused(admin_api, free_server):
    response = admin_api.patch(
        f"/api/v1/servers/{free_server.pk}/", {"suspended": True, "notes": "x"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"suspended": ["This field is read-only."]}
    free_server.refresh_from_db()
    assert free_server.notes == ""


def test_unknown_and_invalid_fields_are_reported_together(admin_api):
    response = admin_api.post(
        "/api/v1/users/", {"email": "not-an-email", "rolle": "admin"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"email", "rolle"}


def _project_serializers(cls=serializers.BaseSerializer):
    for sub in cls.__subclasses__():
        if sub.__module__.split(".")[0] in {"panel", "inventory", "provisioning"}:
            yield sub
        yield from _project_serializers(sub)


def test_every_serializer_of_the_panel_refuses_unknown_fields():
    import panel.urls  # noqa: F401 - loads every API module

    found = set(_project_serializers())
    assert len(found) > 20
    assert {cls for cls in found if not issubclass(cls, RefusesUnknownFields)} == set()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("free=maybe", "free"),
        ("suspended=perhaps", "suspended"),
        ("ordering=bogus", "ordering"),
        ("ordering=name,-bogus", "ordering"),
        ("page_size=abc", "page_size"),
        ("page_size=0", "page_size"),
        ("page_size=501", "page_size"),
        ("page=abc", "page"),
        ("stat=ready", "stat"),
    ],
)
def test_invalid_or_unknown_query_parameters_of_a_list_are_a_400(admin_api, query, field):
    response = admin_api.get(f"/api/v1/servers/?{query}")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize(
    "query", ["free=true", "free=0", "ordering=-name", "page_size=500", "page=1", "search=srv"]
)
def test_valid_query_parameters_of_a_list_are_accepted(admin_api, free_server, query):
    assert admin_api.get(f"/api/v1/servers/?{query}").status_code == 200


def test_a_list_without_search_fields_has_no_search(owner_api, owned_server):
    response = owner_api.get(f"/api/v1/servers/{owned_server.pk}/ips/?search=10.")
    assert response.status_code == 400
    assert response.json() == {"search": ["Unknown query parameter."]}


def test_query_parameters_on_one_object_are_refused(owner_api, owned_server):
    response = owner_api.get(f"/api/v1/servers/{owned_server.pk}/?state=ready")
    assert response.status_code == 400
    assert response.json() == {"state": ["Unknown query parameter."]}


def test_a_power_read_takes_only_a_boolean_refresh(owner_api, owned_server):
    assert owner_api.get(f"{power_url(owned_server)}?refresh=false").status_code == 200
    assert "refresh" in owner_api.get(f"{power_url(owned_server)}?refresh=maybe").json()
    assert "force" in owner_api.get(f"{power_url(owned_server)}?force=1").json()


def test_the_schema_documents_every_query_parameter_the_api_accepts(admin_api, client, free_server):
    """Each documented parameter is accepted and an undocumented one is refused, per GET."""
    schema = client.get("/api/schema/?format=json").json()
    ids = {
        "{id}": "999999",
        "{server_pk}": str(free_server.pk),
        "{user_pk}": str(admin_api.user.pk),
        "{webhook_pk}": "999999",
    }
    checked = 0
    for path, item in schema["paths"].items():
        if "get" not in item or not path.startswith("/api/"):
            continue  # the boot endpoints are machines' plain views, not the API
        for placeholder, value in ids.items():
            path = path.replace(placeholder, value)
        documented = [p["name"] for p in item["get"].get("parameters", []) if p["in"] == "query"]
        for name in [*documented, "undocumented"]:
            answer = admin_api.get(path, {name: ""}).json()
            if isinstance(answer, dict) and "error" in answer:  # the DCImanager-style envelope
                answer = answer["error"]["value"]
            refused = isinstance(answer, dict) and answer.get(name) == ["Unknown query parameter."]
            assert refused == (name == "undocumented"), (path, name)
            checked += 1
    assert checked > 60


def test_api_paths_work_without_the_trailing_slash(admin_api, owned_server):
    created = admin_api.post(
        "/api/v1/users",
        {"email": "noslash@example.test", "password": "a-long-test-password"},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert User.objects.filter(email="noslash@example.test").exists()
    assert admin_api.get("/api/v1/servers").status_code == 200
    assert admin_api.get(f"/api/v1/servers/{owned_server.pk}").status_code == 200
    assert admin_api.get(f"/api/v1/servers/{owned_server.pk}/power").status_code == 200
    assert admin_api.get(f"/api/v1/servers/{owned_server.pk}/ips").status_code == 200
    assert admin_api.get("/api/v1/servers/").status_code == 200


def test_the_schema_names_each_path_once_with_its_slash(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]
    assert "/api/v1/users/" in paths
    assert "/api/v1/servers/{server_pk}/ips/{id}/" in paths
    api_paths = [p for p in paths if p.startswith("/api/")]
    assert [p for p in api_paths if "?" in p or not p.endswith("/")] == []
