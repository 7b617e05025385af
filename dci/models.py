from django.conf import settings
from django.db import models
from django.utils import timezone


class DciSession(models.Model):
    """A login of the DCImanager-compatible API (`POST /api/auth/v4/public/token`): billing
    modules log in with email and password and send the token back as the `ses6` cookie or the
    `x-xsrf-token` header. Only the token's hash is kept; `prefix` names it for people."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dci_sessions"
    )
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    source_ip = models.GenericIPAddressField(null=True, blank=True, help_text="Logged in from")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(
        db_index=True, help_text="Moves forward on use, never past the session's maximum age"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "DCImanager API session"

    def __str__(self):
        return f"{self.prefix}… ({self.user})"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
