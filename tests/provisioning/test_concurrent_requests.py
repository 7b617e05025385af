"""Two (or ten) power requests for one server at the same instant, in real transactions."""

import pytest
from rest_framework.test import APIClient

from panel import services as people
from provisioning.models import Operation
from tests.concurrency import all_at_once
from tests.factories import make_server, make_user


@pytest.mark.django_db(transaction=True)
def test_only_one_of_simultaneous_requests_wins_and_the_rest_get_409():
    owner = make_user()
    _, key = people.create_api_token(actor=None, user=owner)
    server = make_server(owner=owner)

    def request(action):
        def call():
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
            return client.post(
                f"/api/v1/servers/{server.pk}/power/", {"action": action}, format="json"
            )

        return call

    answers = all_at_once([request("on" if i % 2 else "off") for i in range(10)])
    codes = sorted(a.status_code for a in answers)
    assert codes == [202] + [409] * 9
    winner = next(a for a in answers if a.status_code == 202).json()["task"]
    assert {a.json()["operation"] for a in answers if a.status_code == 409} == {winner}
    assert Operation.objects.filter(server=server).count() == 1
