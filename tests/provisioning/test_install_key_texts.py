"""Installs take SSH public key texts as well as saved key ids: a billing system has the
customer's key, not a key saved in the panel."""

import pytest
from django.core.exceptions import ValidationError

from panel import services as people
from panel.models import SshKey
from provisioning import services
from provisioning.models import Operation
from tests.factories import ECDSA, ED25519, RSA_1024


def install(api, server, template, **body):
    return api.post(
        f"/api/v1/servers/{server.pk}/install/", {"os_template": template.pk, **body}, format="json"
    )


def test_anonymous_cannot_install_with_key_texts(anonymous_api, owned_server, alma):
    assert install(anonymous_api, owned_server, alma, ssh_key_texts=[ED25519]).status_code == 401


def test_another_customer_cannot_install_with_key_texts(other_api, owned_server, alma):
    assert install(other_api, owned_server, alma, ssh_key_texts=[ED25519]).status_code == 404
    assert not Operation.objects.exists()


def test_the_owner_installs_with_a_key_text_which_is_not_saved(owner_api, owned_server, alma):
    response = install(owner_api, owned_server, alma, ssh_key_texts=[ECDSA])
    assert response.status_code == 202, response.content
    op = Operation.objects.get(pk=response.json()["task"])
    assert op.params["ssh_keys"] == [ECDSA]
    assert op.params["ssh_key_names"] == ["root@vm"]
    assert not SshKey.objects.exists()


def test_staff_install_with_the_owners_saved_key_and_a_key_text(
    admin_api, admin, customer, owned_server, alma
):
    saved = people.add_ssh_key(actor=admin, user=customer, public_key=ED25519)
    response = install(admin_api, owned_server, alma, ssh_keys=[saved.pk], ssh_key_texts=[ECDSA])
    assert response.status_code == 202, response.content
    op = Operation.objects.get(pk=response.json()["task"])
    assert op.params["ssh_keys"] == [ED25519, ECDSA]
    assert op.params["ssh_key_names"] == ["alice@laptop", "root@vm"]


def test_a_customer_cannot_use_another_customers_saved_key(
    owner_api, admin, other_customer, owned_server, alma
):
    theirs = people.add_ssh_key(actor=admin, user=other_customer, public_key=ED25519)
    response = install(owner_api, owned_server, alma, ssh_keys=[theirs.pk])
    assert response.status_code == 400
    assert "ssh_keys" in response.json()


@pytest.mark.parametrize("bad", ["hello world", RSA_1024, ED25519 + "\n" + ECDSA, ""])
def test_each_bad_key_text_is_a_field_error_naming_its_position(owner_api, owned_server, alma, bad):
    response = install(owner_api, owned_server, alma, ssh_key_texts=[ED25519, bad])
    assert response.status_code == 400, response.content
    errors = response.json()["ssh_key_texts"]
    assert list(errors) == ["1"] and errors["1"]
    assert not Operation.objects.exists()


def test_key_texts_must_be_a_list_of_strings(owner_api, owned_server, alma):
    response = install(owner_api, owned_server, alma, ssh_key_texts=ED25519)
    assert response.status_code == 400
    assert "ssh_key_texts" in response.json()


def test_the_service_takes_key_texts_dropping_a_key_given_twice(customer, owned_server, alma):
    saved = people.add_ssh_key(actor=customer, public_key=ED25519)
    op = services.start_install(
        actor=customer,
        server=owned_server,
        template=alma,
        ssh_keys=[saved],
        ssh_key_texts=[f"  {ED25519}  ", ECDSA],
    )
    assert op.params["ssh_keys"] == [ED25519, ECDSA]


def test_the_service_names_a_bad_key_text_by_its_position(customer, owned_server, alma):
    with pytest.raises(ValidationError) as refused:
        services.start_install(
            actor=customer,
            server=owned_server,
            template=alma,
            ssh_key_texts=[ECDSA, "ssh-ed25519 !!!"],
        )
    assert refused.value.message_dict["ssh_key_texts"] == [
        "Key 2: The key data is not valid base64."
    ]
