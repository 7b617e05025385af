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
