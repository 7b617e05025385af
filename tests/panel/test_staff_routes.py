"""Staff-only changes to objects customers can read: what a customer cannot see is a 404,
exactly like a missing one; only on what they can see is the answer 403."""

import pytest

from inventory import ipam
from provisioning.models import OsTemplate
from tests.factories import make_pool


@pytest.fixture
def allocated(admin, owned_server):
    return ipam.allocate_ip(actor=admin, server=owned_server, pool=make_pool())


# (method, path under /api/v1/servers/{id}/, body, what staff get)
ROUTES = [
    ("post", "owner/", lambda customer, ip: {"owner": customer.pk}, 200),
    ("delete", "owner/", None, 200),
    ("patch", "", lambda customer, ip: {"notes": "rack 4"}, 200),
    ("post", "ips/", lambda customer, ip: {"pool": ip.pool_id}, 201),
    ("delete", "ips/{ip}/", None, 204),
    ("delete", "", None, 409),  # staff reach the service: an owned server is released first
]


@pytest.mark.parametrize(("method", "path", "body", "staff_status"), ROUTES)
def test_staff_routes_on_a_server(
    anonymous_api,
    other_api,
    owner_api,
    admin_api,
    owned_server,
    allocated,
    customer,
    method,
    path,
    body,
    staff_status,
):
    def call(api, server_id=owned_server.pk):
        url = f"/api/v1/servers/{server_id}/{path.format(ip=allocated.pk)}"
        data = body(customer, allocated) if body else None
        return getattr(api, method)(url, data, format="json")

    assert call(anonymous_api).status_code == 401
    assert call(other_api).status_code == 404
    assert call(other_api, server_id=999999).status_code == 404
    assert call(owner_api).status_code == 403
    assert call(admin_api).status_code == staff_status


def test_a_customer_cannot_tell_a_private_os_template_from_a_missing_one(owner_api):
    private = OsTemplate.objects.filter(is_public=False).first() or OsTemplate.objects.create(
        name="Staff only", family="kickstart", is_public=False
    )
    public = OsTemplate.objects.filter(is_public=True, is_utility=False).first()
    for method in ("patch", "put", "delete"):
        assert getattr(owner_api, method)(f"/api/v1/os-templates/{private.pk}/").status_code == 404
        assert getattr(owner_api, method)("/api/v1/os-templates/999999/").status_code == 404
        assert getattr(owner_api, method)(f"/api/v1/os-templates/{public.pk}/").status_code == 403


def test_staff_only_endpoints_stay_403_for_any_id(owner_api, customer):
    """Users, networks, pools and the audit log are staff's alone: no id is revealed."""
    for url in ("/api/v1/users/{}/", "/api/v1/networks/{}/", "/api/v1/pools/{}/"):
        assert owner_api.patch(url.format(customer.pk), {}, format="json").status_code in (403, 405)
        assert owner_api.patch(url.format(999999), {}, format="json").status_code in (403, 405)
    assert owner_api.get(f"/api/v1/users/{customer.pk}/").status_code == 403
    assert owner_api.get("/api/v1/users/999999/").status_code == 403
