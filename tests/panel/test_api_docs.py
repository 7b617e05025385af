import re

from django.contrib.staticfiles import finders


def test_the_openapi_schema_is_served(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/servers/{id}/owner/" in schema["paths"]
    assert "409" in schema["paths"]["/api/v1/servers/{server_pk}/ips/"]["post"]["responses"]


def test_the_interactive_docs_work_offline(client):
    html = client.get("/api/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    assert not [url for url in assets if url.startswith(("http://", "https://", "//"))]
    bundle = next(url for url in assets if url.endswith("swagger-ui-bundle.js"))
    assert finders.find(bundle.removeprefix("/static/"))


def test_a_cursor_answer_matches_its_list_schema(admin_api, client, free_server):
    """A cursor page has no count, so the schema of a list that takes ?cursor= requires none."""
    schemas = client.get("/api/schema/?format=json").json()["components"]["schemas"]
    answer = admin_api.get("/api/v1/servers/", {"cursor": ""}).json()
    assert "count" not in answer
    assert set(schemas["PaginatedServerWithOperationList"]["required"]) <= set(answer)
    assert "count" in schemas["PaginatedUserList"]["required"]  # ?page= lists keep it
