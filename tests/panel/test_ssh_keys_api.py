import pytest

from panel.models import AuditEvent, SshKey
from tests.conftest import token_client
from tests.factories import ECDSA, ED25519, FINGERPRINT, RSA_1024, make_user


def test_anonymous_gets_401_on_keys(anonymous_api):
    assert anonymous_api.get("/api/v1/ssh-keys/").status_code == 401
    assert anonymous_api.post("/api/v1/ssh-keys/", {"public_key": ED25519}).status_code == 401


def test_a_user_adds_a_key_and_sees_its_ssh_keygen_fingerprint(owner_api):
    response = owner_api.post("/api/v1/ssh-keys/", {"public_key": ED25519}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["fingerprint"] == FINGERPRINT
    assert body["name"] == "alice@laptop"
    assert body["key_type"] == "ssh-ed25519"
    assert AuditEvent.objects.filter(action="sshkey.add").count() == 1


def test_ecdsa_keys_are_accepted(owner_api):
    response = owner_api.post(
        "/api/v1/ssh-keys/", {"name": "ci", "public_key": ECDSA}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["fingerprint"] == "SHA256:LdvAdhYUjbaEve95AVBJkegVEEpql/0A8GGCtHF+q/E"


@pytest.mark.parametrize(
    "public_key",
    [
        "",
        "hello world",
        "ssh-ed25519",
        "ssh-ed25519 !!!notbase64!!!",
        "ssh-rsa " + ED25519.split()[1],
        "ssh-ed25519 " + ED25519.split()[1][:-8],
        "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
        RSA_1024,
        ED25519 + "\n" + ECDSA,
        "-----BEGIN OPENSSH PRIVATE KEY-----",
    ],
)
def test_bad_keys_are_field_errors(owner_api, public_key):
    response = owner_api.post(
        "/api/v1/ssh-keys/", {"name": "k", "public_key": public_key}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "public_key" in response.json() or "non_field_errors" in response.json()


def test_the_same_key_twice_is_refused(owner_api):
    assert (
        owner_api.post("/api/v1/ssh-keys/", {"public_key": ED25519}, format="json").status_code
        == 201
    )
    again = owner_api.post(
        "/api/v1/ssh-keys/", {"name": "again", "public_key": ED25519}, format="json"
    )
    assert again.status_code == 400
    assert "already" in again.json()["public_key"][0]


def test_users_see_and_delete_only_their_own_keys(owner_api, other_api, admin_api):
    key_id = owner_api.post("/api/v1/ssh-keys/", {"public_key": ED25519}, format="json").json()[
        "id"
    ]
    assert other_api.get("/api/v1/ssh-keys/").json()["results"] == []
    assert other_api.get(f"/api/v1/ssh-keys/{key_id}/").status_code == 404
    assert other_api.delete(f"/api/v1/ssh-keys/{key_id}/").status_code == 404
    assert admin_api.delete(f"/api/v1/ssh-keys/{key_id}/").status_code == 404
    assert owner_api.delete(f"/api/v1/ssh-keys/{key_id}/").status_code == 204
    assert not SshKey.objects.filter(pk=key_id).exists()


def test_key_list_takes_bounded_queries(db, django_assert_max_num_queries):
    user = make_user()
    api = token_client(user)
    api.post("/api/v1/ssh-keys/", {"public_key": ED25519}, format="json")
    api.post("/api/v1/ssh-keys/", {"public_key": ECDSA}, format="json")
    with django_assert_max_num_queries(4):
        assert api.get("/api/v1/ssh-keys/").json()["count"] == 2


CONTROL = "Control characters (line breaks included) are not allowed in an SSH key"


@pytest.mark.parametrize(
    "comment",
    [
        "alice\r@laptop",
        "alice\rMETALPANEL_KEYS",
        "x\x1b[2Jcleared",
        "tab\there",
        "line\u2028separator",
        "next\x85line",
        "bell\x07",
    ],
)
def test_a_key_whose_comment_has_a_control_character_is_refused(owner_api, comment):
    public_key = " ".join(ED25519.split()[:2]) + " " + comment
    response = owner_api.post(
        "/api/v1/ssh-keys/", {"name": "k", "public_key": public_key}, format="json"
    )
    assert response.status_code == 400, response.content
    assert CONTROL in response.json()["public_key"][0]
    assert not SshKey.objects.exists()


def test_the_portal_refuses_a_key_with_a_carriage_return_too(client, customer):
    client.force_login(customer)
    page = client.post("/keys/", {"name": "", "public_key": ED25519 + "\r%end"})
    assert CONTROL in page.content.decode()
    assert not SshKey.objects.exists()
