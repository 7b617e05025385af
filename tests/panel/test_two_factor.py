"""Two-factor login: enrolling in the portal, logging in with a code on every surface (portal,
admin, DCImanager token), recovery codes, replays, turning it off, staff resets and
requirements, and the one throttle. Codes come from pyotp, computed from the secret the
enrolment page shows, as an authenticator app would."""

import base64
import time

import pyotp
import pytest
from django.test import Client

from panel import twofactor
from panel.models import AuditEvent, FailedLogin, RecoveryCode, TotpDevice
from tests.conftest import token_client
from tests.factories import make_user

PASSWORD = "a-long-test-password"
PORTAL, PORTAL_CODE, ADMIN, ADMIN_CODE = (
    "/login/",
    "/login/code/",
    "/admin/login/",
    "/admin/login/code/",
)
DCI_TOKEN = "/api/auth/v4/public/token"
ENROL, TWO_FACTOR = "/settings/two-factor/enrol/", "/settings/two-factor/"


def code(secret: str, steps: int = 0) -> str:
    """The app's code `steps` time steps from now (the panel accepts one step either side)."""
    return pyotp.TOTP(secret).at(time.time() + 30 * steps)


def away_from_a_step_boundary() -> None:
    """Codes computed for neighbouring steps stay neighbours while the test posts them."""
    while time.time() % 30 > 27 or time.time() % 30 < 1:
        time.sleep(0.2)


def enrol(client: Client, user) -> tuple[str, list[str]]:
    """Set up the app as a person does: read the secret off the page, answer a code (the
    previous step's, so that this step's and the next are left for the test)."""
    away_from_a_step_boundary()
    client.force_login(user)
    page = client.get(ENROL)
    secret = page.context["secret"].replace(" ", "")
    done = client.post(ENROL, {"code": code(secret, -1)})
    assert done.status_code == 200, done.content
    client.logout()
    user.refresh_from_db()  # its session generation went up: a login now uses the new one
    return secret, done.context["codes"]


def password_step(client: Client, user, url: str = PORTAL, **extra):
    return client.post(url, {"username": user.email, "password": PASSWORD, **extra})


def dci_login(user, **extra):
    body = {"email": user.email, "password": PASSWORD, **extra}
    return Client().post(DCI_TOKEN, body, content_type="application/json")


def logged_in_as(client: Client):
    return client.session.get("_auth_user_id")


def secret_on(page) -> str:
    return page.context["secret"].replace(" ", "")


def dci_token(user, **extra) -> str:
    answer = dci_login(user, **extra)
    assert answer.status_code == 201, answer.content
    return answer.json()["token"]


def dci_token_works(token: str) -> bool:
    client = Client()
    client.cookies["ses6"] = token
    return client.get("/api/dci/v3/server").status_code == 200


@pytest.fixture
def enrolled(client, customer):
    secret, recovery_codes = enrol(client, customer)
    return customer, secret, recovery_codes


# Enrolling


def test_a_customer_enrols_with_a_code_from_the_app_and_sees_recovery_codes_once(client, customer):
    client.force_login(customer)
    page = client.get(ENROL)
    assert page.status_code == 200
    assert "<svg" in page.content.decode()  # the QR code, drawn by the panel
    # the key as text, labelled by visible text (aria-label is not allowed on <code>)
    assert 'Key: <code class="fs-5" id="totp-secret">' in page.content.decode()
    secret = page.context["secret"].replace(" ", "")
    assert page.context["secret"] == client.get(ENROL).context["secret"]  # a reload keeps it
    assert AuditEvent.objects.filter(action="twofactor.enrol_started").count() == 1

    done = client.post(ENROL, {"code": code(secret)})

    codes = done.context["codes"]
    assert len(codes) == twofactor.RECOVERY_CODE_COUNT
    assert twofactor.has_second_factor(customer)
    assert AuditEvent.objects.filter(action="twofactor.enable", target_id=str(customer.pk))
    assert "codes" not in client.get(TWO_FACTOR).context  # shown once
    assert "10" in client.get(TWO_FACTOR).content.decode()  # how many are left


def test_neither_the_secret_nor_the_recovery_codes_are_stored_in_clear(enrolled):
    customer, secret, codes = enrolled
    device = TotpDevice.objects.get(user=customer)
    assert secret not in device.encrypted_key
    assert base64.b32decode(secret).hex() not in device.encrypted_key
    stored = list(RecoveryCode.objects.values_list("code_hash", flat=True))
    assert not {c.replace("-", "") for c in codes} & set(stored)
    assert all(c not in h for c in codes for h in stored)


def test_the_set_up_secret_stays_out_of_the_session_and_its_start_is_audited(client, customer):
    client.force_login(customer)
    secret = secret_on(client.get(ENROL))
    session = str(dict(client.session))
    assert secret not in session and base64.b32decode(secret).hex() not in session
    device = TotpDevice.objects.get(user=customer)
    assert len(device.enrolling_session) == 64
    assert device.enrolling_session != client.session.session_key  # only its hash is kept
    started = AuditEvent.objects.get(action="twofactor.enrol_started")
    assert (started.actor, started.source_ip) == (customer, "127.0.0.1")


def test_a_set_up_secret_seen_in_another_session_is_worthless(client, customer):
    # Someone with the password alone opens the set-up page and copies the key...
    thief = Client()
    password_step(thief, customer)
    stolen = secret_on(thief.get(ENROL))
    # ...then the customer turns two-factor login on in their own session.
    away_from_a_step_boundary()
    password_step(client, customer)
    shown = secret_on(client.get(ENROL))
    assert shown != stolen
    assert client.post(ENROL, {"code": code(shown, -1)}).status_code == 200
    assert twofactor.has_second_factor(customer)

    again = Client()
    assert password_step(again, customer).url == PORTAL_CODE
    refused = again.post(PORTAL_CODE, {"code": code(stolen)})
    assert "That code is not right" in refused.content.decode()
    assert not logged_in_as(again)
    assert AuditEvent.objects.filter(action="twofactor.enrol_started").count() == 2


def test_only_the_session_that_was_shown_a_secret_can_turn_it_on(customer):
    first, second = Client(), Client()
    first.force_login(customer)
    second.force_login(customer)
    away_from_a_step_boundary()
    first_secret = secret_on(first.get(ENROL))
    second_secret = secret_on(second.get(ENROL))  # another session: a new secret
    assert first_secret != second_secret

    refused = first.post(ENROL, {"code": code(first_secret)})
    assert "That code is not right" in refused.content.decode()
    assert (
        "That code is not right"
        in first.post(ENROL, {"code": code(second_secret)}).content.decode()
    )
    assert not twofactor.has_second_factor(customer)


def test_a_login_drops_a_set_up_left_unfinished(client, customer):
    other = Client()
    other.force_login(customer)
    other.get(ENROL)
    assert TotpDevice.objects.filter(user=customer, confirmed=False).exists()
    password_step(client, customer)
    assert not TotpDevice.objects.filter(user=customer).exists()


def test_a_wrong_code_at_enrolment_leaves_two_factor_off(client, customer):
    client.force_login(customer)
    client.get(ENROL)
    refused = client.post(ENROL, {"code": "000000"})
    assert "That code is not right" in refused.content.decode()
    assert not twofactor.has_second_factor(customer)


# Logging in


def test_an_account_without_two_factor_logs_in_with_its_password_alone(client, customer):
    assert password_step(client, customer).url == "/servers/"
    assert logged_in_as(client) == str(customer.pk)
    login = AuditEvent.objects.get(action="user.login")
    assert login.detail == {"via": "portal", "second_factor": None}


def test_the_portal_asks_for_the_code_after_the_password_and_logs_in_with_it(client, enrolled):
    customer, secret, _ = enrolled
    first = password_step(client, customer, next="/keys/")
    assert first.url == PORTAL_CODE
    assert not logged_in_as(client)

    second = client.post(PORTAL_CODE, {"code": code(secret)})

    assert second.url == "/keys/"
    assert logged_in_as(client) == str(customer.pk)
    login = AuditEvent.objects.filter(action="user.login").latest("pk")
    assert login.detail == {"via": "portal", "second_factor": "totp"}


def test_a_wrong_code_is_refused_counted_and_audited(client, enrolled):
    customer, _, _ = enrolled
    password_step(client, customer)
    refused = client.post(PORTAL_CODE, {"code": "123456"})
    assert "That code is not right" in refused.content.decode()
    assert not logged_in_as(client)
    assert FailedLogin.objects.filter(email=customer.email).count() == 1
    failure = AuditEvent.objects.get(action="user.login_failed")
    assert failure.detail == {"reason": "code", "via": "portal"}


def test_a_code_cannot_be_used_twice(client, enrolled):
    customer, secret, _ = enrolled
    away_from_a_step_boundary()
    used = code(secret)
    password_step(client, customer)
    assert client.post(PORTAL_CODE, {"code": used}).status_code == 302
    client.logout()

    password_step(client, customer)
    replayed = client.post(PORTAL_CODE, {"code": used})
    assert twofactor.REPLAYED_CODE in replayed.content.decode()
    assert not logged_in_as(client)
    assert FailedLogin.objects.filter(email=customer.email).count() == 1  # still a failure
    # an older code than the one used is no better
    older = client.post(PORTAL_CODE, {"code": code(secret, -1)})
    assert twofactor.REPLAYED_CODE in older.content.decode()
    assert FailedLogin.objects.filter(email=customer.email).count() == 2


def test_a_recovery_code_logs_in_once(client, enrolled):
    customer, _, codes = enrolled
    password_step(client, customer)
    response = client.post(PORTAL_CODE, {"code": codes[0].upper()}, follow=True)
    assert logged_in_as(client) == str(customer.pk)
    assert "Recovery code used: 9 left." in response.content.decode()
    assert AuditEvent.objects.filter(action="user.login").latest("pk").detail == {
        "via": "portal",
        "second_factor": "recovery_code",
    }
    client.logout()

    password_step(client, customer)
    again = client.post(PORTAL_CODE, {"code": codes[0]})
    assert "That code is not right" in again.content.decode()
    assert not logged_in_as(client)


def test_the_code_step_needs_the_password_step_first(client, enrolled):
    _, secret, _ = enrolled
    response = client.post(PORTAL_CODE, {"code": code(secret)})
    assert response.url == PORTAL
    assert not logged_in_as(client)


def test_the_password_step_expires(client, enrolled):
    customer, secret, _ = enrolled
    password_step(client, customer)
    session = client.session
    session["login_pending"]["until"] = time.time() - 1
    session.save()
    assert client.post(PORTAL_CODE, {"code": code(secret)}).url == PORTAL
    assert not logged_in_as(client)


def test_a_right_password_alone_does_not_clear_the_failed_codes(client, enrolled, settings):
    customer, secret, _ = enrolled
    settings.PANEL_LOGIN_FAILURES_PER_ACCOUNT = 3
    for _ in range(3):
        password_step(client, customer)
        client.post(PORTAL_CODE, {"code": "123456"})
    password_step(client, customer)
    refused = client.post(PORTAL_CODE, {"code": code(secret)}).content.decode()
    assert "Too many failed logins. Wait 15 minutes, then try again." in refused
    assert "reset your password" not in refused  # a password reset does not clear the count
    assert not logged_in_as(client)


def test_a_failed_password_is_audited(client, customer):
    client.post(PORTAL, {"username": customer.email, "password": "guess"})
    failure = AuditEvent.objects.get(action="user.login_failed")
    assert failure.detail == {"email": customer.email, "reason": "password"}
    assert failure.actor is None


def test_a_password_step_is_finished_only_on_the_surface_it_was_started_on(client, enrolled, admin):
    customer, _, codes = enrolled
    password_step(client, customer)
    assert client.post(ADMIN_CODE, {"code": codes[0]}).url == ADMIN
    assert not logged_in_as(client)
    assert not AuditEvent.objects.filter(action="user.login_failed").exists()
    assert client.post(PORTAL_CODE, {"code": codes[0]}).url == "/servers/"  # still unused

    _, staff_codes = enrol(Client(), admin)
    staff = Client()
    password_step(staff, admin, ADMIN)
    assert staff.post(PORTAL_CODE, {"code": staff_codes[0]}).url == PORTAL
    assert not logged_in_as(staff)


def test_only_the_login_code_step_puts_the_focus_on_the_code(client, enrolled):
    customer, _, codes = enrolled
    password_step(client, customer)
    assert "autofocus" in client.get(PORTAL_CODE).content.decode()
    client.post(PORTAL_CODE, {"code": codes[0]})
    settings_page = client.get(TWO_FACTOR).content.decode()
    assert "Turn it off" in settings_page
    assert "autofocus" not in settings_page


def test_the_login_page_sends_a_logged_in_person_on_even_when_next_is_itself(client, customer):
    client.force_login(customer)
    response = client.get(f"{PORTAL}?next={PORTAL}")
    assert (response.status_code, response.url) == (302, "/servers/")


# The admin


def test_the_admin_login_asks_staff_with_a_second_factor_for_the_code(client, admin):
    secret, _ = enrol(client, admin)
    first = password_step(client, admin, ADMIN, next="/admin/")
    assert first.url == ADMIN_CODE
    assert client.get("/admin/").status_code == 302  # not logged in yet
    page = client.get(ADMIN_CODE)
    assert "authenticator app" in page.content.decode()

    assert client.post(ADMIN_CODE, {"code": code(secret)}).url == "/admin/"
    assert client.get("/admin/").status_code == 200
    login = AuditEvent.objects.filter(action="user.login").latest("pk")
    assert login.detail == {"via": "admin", "second_factor": "totp"}


def test_the_admin_code_step_has_a_heading_and_a_way_back(client, admin):
    enrol(client, admin)
    password_step(client, admin, ADMIN)
    page = client.get(ADMIN_CODE).content.decode()
    assert "<h1>Two-factor code</h1>" in page
    assert '<a href="/admin/login/">Start again</a>' in page


def test_staff_required_to_use_two_factor_are_sent_to_enrol_and_reach_nothing_else(
    client, admin, settings
):
    settings.PANEL_STAFF_TWO_FACTOR_REQUIRED = True
    response = password_step(client, admin, ADMIN, next="/admin/panel/user/")
    assert response.url == ENROL
    for url in ("/admin/", "/admin/panel/user/", "/servers/"):
        assert client.get(url).url == ENROL  # the admin refuses them: enrol first
    assert client.get("/static/no-such-file.css").status_code == 404  # not sent to enrol
    assert dci_login(admin).status_code == 403

    secret = client.get(ENROL).context["secret"].replace(" ", "")
    done = client.post(ENROL, {"code": code(secret)})
    assert done.status_code == 200
    assert 'href="/admin/panel/user/">Go on' in done.content.decode()  # the original `next`
    assert client.get("/admin/").status_code == 200
    refused = client.post(TWO_FACTOR, {"code": code(secret, 1)})
    assert "cannot be turned off" in refused.content.decode()
    assert twofactor.has_second_factor(admin)


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/api/v1/servers/", lambda answer: answer["detail"]),
        ("/metrics", lambda answer: answer["detail"]),
        ("/api/dci/v3/server", lambda answer: answer["error"]["msg"]),
    ],
)
def test_an_enrol_only_session_answers_machine_clients_403_in_their_format(
    client, customer, url, body
):
    customer.two_factor_required = True
    customer.save()
    password_step(client, customer)
    answer = client.get(url)
    assert answer.status_code == 403
    assert answer["Content-Type"] == "application/json"
    assert "set up two-factor login" in body(answer.json())


def test_a_customer_chosen_by_staff_must_enrol_at_the_next_login(client, customer):
    customer.two_factor_required = True
    customer.save()
    assert password_step(client, customer).url == ENROL
    assert client.get("/servers/").url == ENROL
    assert dci_login(customer).status_code == 403


def test_staff_reset_a_customers_second_factor_in_the_admin_audited(client, enrolled, admin):
    customer, _, _ = enrolled
    staff = Client()
    staff.force_login(admin)
    response = staff.post(
        "/admin/panel/user/",
        {"action": "reset_two_factor", "_selected_action": [customer.pk]},
        follow=True,
    )
    assert "second factor removed" in response.content.decode()
    assert not TotpDevice.objects.filter(user=customer).exists()
    assert not RecoveryCode.objects.exists()
    reset = AuditEvent.objects.get(action="twofactor.reset")
    assert (reset.actor, reset.target_id) == (admin, str(customer.pk))
    assert password_step(client, customer).url == "/servers/"


def test_staff_cannot_reset_their_own_second_factor_without_a_code(client, admin):
    enrol(client, admin)
    client.force_login(admin)
    response = client.post(
        "/admin/panel/user/",
        {"action": "reset_two_factor", "_selected_action": [admin.pk]},
        follow=True,
    )
    assert "You cannot reset your own second factor" in response.content.decode()
    assert twofactor.has_second_factor(admin)
    assert not AuditEvent.objects.filter(action="twofactor.reset").exists()


def test_staff_see_who_has_two_factor_and_can_require_it(
    client, enrolled, admin, django_assert_max_num_queries
):
    customer, _, _ = enrolled
    other = make_user()
    for _ in range(20):
        enrol(client, make_user())
    staff = Client()
    staff.force_login(admin)
    with django_assert_max_num_queries(5):
        page = staff.get("/admin/panel/user/")
    rows = {row.email: row.has_two_factor for row in page.context["cl"].result_list}
    assert rows[customer.email] and not rows[other.email]
    change = staff.get(f"/admin/panel/user/{other.pk}/change/")
    assert "requires two-factor login" in change.content.decode().lower()


def test_new_recovery_codes_replace_the_old_ones_on_a_current_code(client, enrolled):
    customer, secret, old_codes = enrolled
    client.force_login(customer)
    url = "/settings/two-factor/recovery-codes/"
    assert "That code is not right" in client.post(url, {"code": "123456"}).content.decode()
    new_codes = client.post(url, {"code": code(secret)}).context["codes"]
    assert len(set(new_codes)) == 10 and not set(new_codes) & set(old_codes)
    assert AuditEvent.objects.filter(action="twofactor.recovery_codes").count() == 1
    client.logout()

    password_step(client, customer)
    assert (
        "That code is not right"
        in client.post(PORTAL_CODE, {"code": old_codes[1]}).content.decode()
    )
    assert client.post(PORTAL_CODE, {"code": new_codes[1]}).status_code == 302


# Turning it off


def test_turning_it_off_asks_for_a_current_code(client, enrolled):
    customer, secret, _ = enrolled
    client.force_login(customer)
    refused = client.post(TWO_FACTOR, {"code": "123456"})
    assert "That code is not right" in refused.content.decode()
    assert twofactor.has_second_factor(customer)
    assert AuditEvent.objects.filter(action="twofactor.disable_refused").exists()

    assert client.post(TWO_FACTOR, {"code": code(secret)}).url == TWO_FACTOR
    assert not TotpDevice.objects.filter(user=customer).exists()
    assert AuditEvent.objects.filter(action="twofactor.disable", actor=customer).exists()
    client.logout()
    assert password_step(client, customer).url == "/servers/"


# Other sessions end when the second factor changes


def test_turning_it_on_ends_the_accounts_other_sessions_but_not_this_one(client, customer):
    other = Client()
    password_step(other, customer)
    token = dci_token(customer)
    assert other.get("/servers/").status_code == 200 and dci_token_works(token)

    password_step(client, customer)
    secret = secret_on(client.get(ENROL))
    assert client.post(ENROL, {"code": code(secret)}).status_code == 200

    assert client.get("/servers/").status_code == 200
    assert other.get("/servers/").url.startswith(PORTAL)
    assert not dci_token_works(token)


def test_turning_it_off_ends_the_accounts_other_sessions_but_not_this_one(client, enrolled):
    customer, secret, codes = enrolled
    other = Client()
    password_step(other, customer)
    other.post(PORTAL_CODE, {"code": codes[0]})
    token = dci_token(customer, otp=codes[1])
    password_step(client, customer)
    client.post(PORTAL_CODE, {"code": codes[2]})

    assert client.post(TWO_FACTOR, {"code": code(secret)}).url == TWO_FACTOR

    assert client.get("/servers/").status_code == 200
    assert other.get("/servers/").url.startswith(PORTAL)
    assert not dci_token_works(token)


def test_a_staff_reset_ends_the_accounts_sessions(client, enrolled, admin):
    customer, _, codes = enrolled
    password_step(client, customer)
    client.post(PORTAL_CODE, {"code": codes[0]})
    token = dci_token(customer, otp=codes[1])
    assert client.get("/servers/").status_code == 200 and dci_token_works(token)

    twofactor.reset(actor=admin, user=customer)

    assert client.get("/servers/").url.startswith(PORTAL)
    assert not dci_token_works(token)


def test_an_enrol_only_session_is_logged_out_once_the_account_enrolled_elsewhere(customer):
    customer.two_factor_required = True
    customer.save()
    waiting, enrolling = Client(), Client()
    assert password_step(waiting, customer).url == ENROL
    password_step(enrolling, customer)
    secret = secret_on(enrolling.get(ENROL))
    assert enrolling.post(ENROL, {"code": code(secret)}).status_code == 200

    assert waiting.get("/servers/").url == PORTAL  # no loop, and not let in
    assert not logged_in_as(waiting)
    assert waiting.get(PORTAL).status_code == 200
    assert waiting.get(ENROL).url == f"{PORTAL}?next={ENROL}"


# The DCImanager token login


def test_the_dci_token_login_needs_the_code_of_an_account_with_two_factor(enrolled):
    customer, secret, _ = enrolled
    missing = dci_login(customer)
    assert missing.status_code == 401
    assert '"otp"' in missing.json()["error"]["msg"]
    assert dci_login(customer, otp="123456").status_code == 401

    away_from_a_step_boundary()
    used = code(secret)
    answer = dci_login(customer, otp=used)
    assert answer.status_code == 201
    assert set(answer.json()) == {"token", "expires_at"}
    assert dci_login(customer, otp=used).status_code == 401  # a replay
    login = AuditEvent.objects.filter(action="user.login").latest("pk")
    assert login.detail == {"via": "dci", "second_factor": "totp"}


def test_api_tokens_are_unchanged_by_two_factor(enrolled):
    customer, _, _ = enrolled
    assert token_client(customer).get("/api/v1/servers/").status_code == 200


# One throttle


def test_wrong_codes_on_the_portal_the_admin_and_the_dci_login_share_one_throttle(
    client, admin, settings
):
    settings.PANEL_LOGIN_FAILURES_PER_ACCOUNT = 3
    secret, _ = enrol(client, admin)
    last_t = TotpDevice.objects.get(user=admin).last_t
    password_step(client, admin)
    client.post(PORTAL_CODE, {"code": "111111"})
    admin_client = Client()
    password_step(admin_client, admin, ADMIN)
    admin_client.post(ADMIN_CODE, {"code": "222222"})
    assert dci_login(admin, otp="333333").status_code == 429  # the third: the limit
    assert FailedLogin.objects.filter(email=admin.email).count() == 3

    right = code(secret)
    assert "Too many failed logins" in client.post(PORTAL_CODE, {"code": right}).content.decode()
    assert (
        "Too many failed logins" in admin_client.post(ADMIN_CODE, {"code": right}).content.decode()
    )
    throttled = dci_login(admin, otp=right)
    assert throttled.status_code == 429
    assert not logged_in_as(client) and not logged_in_as(admin_client)
    assert TotpDevice.objects.get(user=admin).last_t == last_t  # the right one was not tried


def test_the_two_factor_pages_are_for_logged_in_people_only(client, db):
    for url in (TWO_FACTOR, ENROL, "/settings/two-factor/recovery-codes/"):
        assert client.get(url).url == f"{PORTAL}?next={url}"
        assert client.post(url, {"code": "123456"}).url == f"{PORTAL}?next={url}"
