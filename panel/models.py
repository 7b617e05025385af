"""People: users and roles, SSH keys, API tokens, the audit log and idempotency records."""

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_otp.models import Device, TimestampMixin
from django_otp.oath import TOTP

from panel.encryption import decrypt
from panel.sources import in_networks


class UserManager(BaseUserManager):
    def create_user(self, email: str, password: str | None = None, **fields):
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields):
        fields["role"] = User.Role.ADMIN
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


class User(AbstractBaseUser):
    """A person: hosting staff (`admin`) or a customer. The email is the login name."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        CUSTOMER = "customer", "Customer"

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    notify_by_email = models.BooleanField(
        default=True, help_text="Email this person when an operation on their servers ends."
    )
    two_factor_required = models.BooleanField(
        "requires two-factor login",
        default=False,
        help_text="Must log in with a code from an authenticator app: enrols at the next login.",
    )
    # Raised when the second factor is turned on, off or reset: it is part of the session auth
    # hash, so the sessions opened before end (like a password change ends them).
    session_generation = models.PositiveIntegerField(default=0, editable=False)
    # For a billing system's incremental sync (?updated_since=): a sign-in is not a change.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.email

    @property
    def is_admin(self) -> bool:
        return self.is_active and self.role == self.Role.ADMIN

    # The Django admin asks these; staff rights follow the role alone.
    @property
    def is_staff(self) -> bool:
        return self.is_admin

    @property
    def is_superuser(self) -> bool:
        return self.is_admin

    def has_perm(self, perm, obj=None) -> bool:
        return self.is_admin

    def _get_session_auth_hash(self, secret=None):
        """Django's HMAC of the password, mixed with `session_generation` once it was raised
        (so the sessions of accounts that never changed their second factor go on)."""
        password_hash = super()._get_session_auth_hash(secret=secret)
        if not self.session_generation:
            return password_hash
        return salted_hmac(
            "panel.models.User.session_generation",
            f"{password_hash}:{self.session_generation}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    def has_perms(self, perm_list, obj=None) -> bool:
        return self.is_admin

    def has_module_perms(self, app_label) -> bool:
        return self.is_admin

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class SshKey(models.Model):
    """An OpenSSH public key a user can have installed on their servers."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ssh_keys"
    )
    name = models.CharField(max_length=100)
    public_key = models.TextField()
    key_type = models.CharField(max_length=40)
    fingerprint = models.CharField(max_length=100, help_text="SHA256 fingerprint, as ssh-keygen -l")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "SSH key"
        constraints = [
            models.UniqueConstraint(fields=["user", "fingerprint"], name="sshkey_unique_per_user"),
            models.UniqueConstraint(fields=["user", "name"], name="sshkey_name_unique_per_user"),
        ]

    def __str__(self):
        return f"{self.name} ({self.fingerprint})"


class ApiToken(models.Model):
    """A token for scripts and billing systems; only its hash is kept, it is shown once."""

    class Scope(models.TextChoices):
        READ = "read", "Read only"
        WRITE = "write", "Read and write"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.WRITE)
    allowed_cidrs = models.JSONField(
        default=list, blank=True, help_text="Source networks allowed to use it; empty: any"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self):
        return f"{self.prefix}… ({self.user})"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def allows_address(self, address: str | None) -> bool:
        if not self.allowed_cidrs:
            return True
        return in_networks(address, self.allowed_cidrs)


class AuditEvent(models.Model):
    """One state change: who, from where, what, on what, with which details, when."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # indexed below with created_at
    )
    actor_email = models.CharField(
        max_length=254, blank=True, help_text="Kept if the user is deleted"
    )
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True, db_index=True)
    target_id = models.CharField(max_length=64, blank=True, db_index=True)
    target_repr = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # The API's ?actor= and ?action= (a busy billing token, a common action), newest first.
        indexes = [
            models.Index(fields=["actor", "created_at"], name="auditevent_actor_created"),
            models.Index(fields=["action", "created_at"], name="auditevent_action_created"),
        ]

    def __str__(self):
        who = self.actor_email or "system"
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who} {self.action} {self.target_repr}"


class IdempotencyRecord(models.Model):
    """The first answer to a POST sent with an Idempotency-Key, replayed to retries."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user"),
        ]

    def __str__(self):
        return f"{self.user_id}:{self.key}"


class FailedLogin(models.Model):
    """A refused portal login, counted to slow down password guessing (panel.logins)."""

    email = models.CharField(max_length=254, db_index=True)
    source_ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self):
        return f"{self.email} from {self.source_ip} at {self.at:%Y-%m-%d %H:%M:%S}"


class TotpDevice(TimestampMixin, Device):
    """A person's authenticator app (RFC 6238, 30 s steps, 6 digits): the shared secret is
    encrypted at rest; `confirmed` once a first code proved the app has it."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="totp_device"
    )
    encrypted_key = models.TextField(help_text="The secret, encrypted (panel.encryption)")
    last_t = models.BigIntegerField(
        default=-1, help_text="The time step of the last code accepted: no code at or before it is"
    )
    enrolling_session = models.CharField(
        max_length=64,
        blank=True,
        help_text="Until confirmed: a hash of the key of the session that is setting it up, "
        "the only one that sees this secret and may confirm it",
    )

    class Meta:
        verbose_name = "TOTP device"

    def totp(self) -> TOTP:
        return TOTP(bytes.fromhex(decrypt(self.encrypted_key)), step=30, digits=6)


class RecoveryCode(models.Model):
    """A one-time code for when the authenticator app is lost; only its hash is kept."""

    device = models.ForeignKey(TotpDevice, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"recovery code of {self.device.user} ({'used' if self.used_at else 'unused'})"
