"""Login throttling: after repeated failures for one account, or from one address, the
portal refuses further attempts for a while, even with the right password."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from panel.models import FailedLogin


def _recent(email: str, source_ip: str | None):
    since = timezone.now() - timedelta(seconds=settings.PANEL_LOGIN_LOCKOUT_SECONDS)
    return FailedLogin.objects.filter(at__gte=since), Q(email__iexact=email), Q(source_ip=source_ip)


def check_allowed(email: str, source_ip: str | None) -> None:
    recent, same_account, same_address = _recent(email, source_ip)
    too_many = recent.filter(same_account).count() >= settings.PANEL_LOGIN_FAILURES_PER_ACCOUNT
    if source_ip and not too_many:
        too_many = recent.filter(same_address).count() >= settings.PANEL_LOGIN_FAILURES_PER_IP
    if too_many:
        minutes = max(1, settings.PANEL_LOGIN_LOCKOUT_SECONDS // 60)
        raise ValidationError(
            f"Too many failed logins. Try again in {minutes} minutes, or reset your password.",
            code="throttled",
        )


def record_failure(email: str, source_ip: str | None) -> None:
    FailedLogin.objects.create(email=email[:254], source_ip=source_ip)
    horizon = timezone.now() - timedelta(seconds=settings.PANEL_LOGIN_LOCKOUT_SECONDS)
    FailedLogin.objects.filter(at__lt=horizon).delete()


def record_success(email: str) -> None:
    FailedLogin.objects.filter(email__iexact=email).delete()
