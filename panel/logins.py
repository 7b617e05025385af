"""Login throttling: after repeated failures for one account, or from one address, logins
are refused for a while, even with the right password.

Every password login (the portal, the Django admin, the DCImanager token login) goes through
`ThrottledModelBackend`, the panel's only authentication backend, and every second-factor code
through panel.twofactor, so one throttle and one count of failures serve them all;
`ThrottledLoginForm` tells the person why. A right password alone does not clear the count:
`record_login`, once every factor has passed, does.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from panel import audit
from panel.models import FailedLogin, TotpDevice, User
from panel.sources import client_address


def _window_start():
    return timezone.now() - timedelta(seconds=settings.PANEL_LOGIN_LOCKOUT_SECONDS)


def is_throttled(email: str, source_ip: str | None) -> bool:
    recent = FailedLogin.objects.filter(at__gte=_window_start())
    if recent.filter(email__iexact=email).count() >= settings.PANEL_LOGIN_FAILURES_PER_ACCOUNT:
        return True
    limit = settings.PANEL_LOGIN_FAILURES_PER_IP
    return bool(source_ip) and recent.filter(source_ip=source_ip).count() >= limit


def check_allowed(email: str, source_ip: str | None) -> None:
    if is_throttled(email, source_ip):
        minutes = max(1, settings.PANEL_LOGIN_LOCKOUT_SECONDS // 60)
        raise ValidationError(
            f"Too many failed logins. Wait {minutes} minutes, then try again.",
            code="throttled",
        )


def record_failure(email: str, source_ip: str | None) -> None:
    FailedLogin.objects.create(email=email[:254], source_ip=source_ip)
    FailedLogin.objects.filter(at__lt=_window_start()).delete()


def record_login(*, user: User, via: str, second_factor: str | None) -> None:
    """A login passed every check on surface `via`: its failures are forgiven, a set-up of a
    second factor left unfinished is dropped, it is audited."""
    FailedLogin.objects.filter(email__iexact=user.email).delete()
    TotpDevice.objects.filter(user=user, confirmed=False).delete()
    audit.record(actor=user, action="user.login", target=user, via=via, second_factor=second_factor)


class ThrottledModelBackend(ModelBackend):
    """Django's email + password check, refused while the account or address is throttled."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        email = username or ""
        address = client_address(request) if request is not None else None
        if is_throttled(email, address):
            raise PermissionDenied  # authenticate() then asks no other backend
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            record_failure(email, address)
            audit.record(
                actor=None, action="user.login_failed", email=email[:254], reason="password"
            )
        return user


class ThrottledLoginForm:
    """For Django's login forms: a refusal because of the throttle says so."""

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            check_allowed(self.cleaned_data.get("username", ""), client_address(self.request))
            raise
