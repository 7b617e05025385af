"""Login throttling: after repeated failures for one account, or from one address, the
portal refuses further attempts for a while, even with the right password."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from panel.models import FailedLogin


def _window_start():
    return timezone.now() - timedelta(seconds=settings.PANEL_LOGIN_LOCKOUT_SECONDS)


def check_allowed(email: str, source_ip: str | None) -> None:
    recent = FailedLogin.objects.filter(at__gte=_window_start())
    limit = settings.PANEL_LOGIN_FAILURES_PER_ACCOUNT
    too_many = recent.filter(email__iexact=email).count() >= limit
    if source_ip and not too_many:
        limit = settings.PANEL_LOGIN_FAILURES_PER_IP
        too_many = recent.filter(source_ip=source_ip).count() >= limit
    if too_many:
        minutes = max(1, settings.PANEL_LOGIN_LOCKOUT_SECONDS // 60)
        raise ValidationError(
            f"Too many failed logins. Try again in {minutes} minutes, or reset your password.",
            code="throttled",
        )


def record_failure(email: str, source_ip: str | None) -> None:
    FailedLogin.objects.create(email=email[:254], source_ip=source_ip)
    FailedLogin.objects.filter(at__lt=_window_start()).delete()


def record_success(email: str) -> None:
    FailedLogin.objects.filter(email__iexact=email).delete()
