"""State changes on people: users, SSH keys and API tokens. Each one is audited."""

import hashlib
import ipaddress
import secrets
from datetime import timedelta

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from panel import audit
from panel.exceptions import Conflict
from panel.models import ApiToken, SshKey, User
from panel.sshkeys import parse_public_key

USER_FIELDS = (
    "email",
    "full_name",
    "phone",
    "role",
    "is_active",
    "notify_by_email",
    "two_factor_required",
)


def _set_password(user: User, password: str) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from exc
    user.set_password(password)


def create_user(*, actor: User | None, email: str, password: str | None = None, **fields) -> User:
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": ["A user with this email already exists."]})
    user = User(email=email, **fields)
    if password:
        _set_password(user, password)
    else:
        user.set_unusable_password()
    with transaction.atomic():
        user.save()
        audit.record(actor=actor, action="user.create", target=user, role=user.role)
    return user


def update_user(*, actor: User, user: User, password: str | None = None, **changes) -> User:
    unknown = set(changes) - set(USER_FIELDS)
    if unknown:
        raise ValueError(f"Not user fields: {sorted(unknown)}")
    if "email" in changes:
        changes["email"] = User.objects.normalize_email(changes["email"]).lower()
        if User.objects.filter(email__iexact=changes["email"]).exclude(pk=user.pk).exists():
            raise ValidationError({"email": ["A user with this email already exists."]})
    if (
        user.pk == actor.pk
        and (changes.get("role", user.role) != User.Role.ADMIN or changes.get("is_active") is False)
        and user.role == User.Role.ADMIN
    ):
        raise Conflict("You cannot remove your own admin rights or deactivate yourself.")
    changed = {name: value for name, value in changes.items() if getattr(user, name) != value}
    for name, value in changed.items():
        setattr(user, name, value)
    if password:
        _set_password(user, password)
    with transaction.atomic():
        user.save()
        audit.record(
            actor=actor,
            action="user.update",
            target=user,
            changed=sorted(changed) + (["password"] if password else []),
        )
    return user


def deactivate_user(*, actor: User, user: User) -> User:
    """Close an account without deleting its history (servers, operations, audit events keep
    pointing at it): it can no longer sign in nor use its API tokens. Repeating it is a no-op."""
    if user.pk == actor.pk:
        raise Conflict("You cannot deactivate yourself.")
    with transaction.atomic():
        changed = User.objects.filter(pk=user.pk, is_active=True).update(
            is_active=False, updated_at=timezone.now()
        )
        if changed:
            audit.record(actor=actor, action="user.deactivate", target=user)
    user.refresh_from_db()
    return user


def add_ssh_key(
    *, actor: User, public_key: str, name: str = "", user: User | None = None
) -> SshKey:
    """Save a validated public key for `user` (default: the actor, saving their own; staff
    save a customer's); duplicates are refused."""
    owner = user or actor
    yours = owner.pk == actor.pk
    try:
        parsed = parse_public_key(public_key)
    except ValidationError as exc:
        raise ValidationError({"public_key": exc.messages}) from exc
    name = (name or parsed.comment or parsed.key_type).strip()[:100]
    if SshKey.objects.filter(user=owner, fingerprint=parsed.fingerprint).exists():
        message = "You have already saved this key." if yours else "This user already has this key."
        raise ValidationError({"public_key": [message]})
    if SshKey.objects.filter(user=owner, name=name).exists():
        message = (
            "You already have a key with this name."
            if yours
            else "This user already has a key with this name."
        )
        raise ValidationError({"name": [message]})
    try:
        with transaction.atomic():
            key = SshKey.objects.create(
                user=owner,
                name=name,
                public_key=parsed.canonical,
                key_type=parsed.key_type,
                fingerprint=parsed.fingerprint,
            )
            audit.record(
                actor=actor,
                action="sshkey.add",
                target=key,
                fingerprint=key.fingerprint,
                user=owner.email,
            )
    except IntegrityError as exc:
        raise Conflict("This key was just saved by another request.") from exc
    return key


def delete_ssh_key(*, actor: User, key: SshKey) -> None:
    with transaction.atomic():
        audit.record(
            actor=actor,
            action="sshkey.delete",
            target=key,
            fingerprint=key.fingerprint,
            user=key.user.email,
        )
        key.delete()


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_cidrs(cidrs: list[str]) -> list[str]:
    """Canonical network strings; a host address becomes a /32 or /128."""
    networks = []
    for cidr in cidrs or []:
        try:
            networks.append(str(ipaddress.ip_network(str(cidr).strip(), strict=False)))
        except ValueError as exc:
            raise ValidationError({"allowed_cidrs": [f'"{cidr}" is not an IP network.']}) from exc
    return networks


def create_api_token(
    *,
    actor: User | None,
    user: User,
    name: str = "",
    scope: str = ApiToken.Scope.WRITE,
    allowed_cidrs: list[str] | None = None,
    expires_days: int | None = None,
) -> tuple[ApiToken, str]:
    """Create a token; returns it with its key, which is never available again."""
    if scope not in ApiToken.Scope.values:
        raise ValidationError({"scope": [f"Choose one of: {', '.join(ApiToken.Scope.values)}."]})
    if expires_days is not None and expires_days < 1:
        raise ValidationError({"expires_days": ["Expiry must be at least one day."]})
    cidrs = normalise_cidrs(allowed_cidrs or [])
    prefix = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=prefix,
            secret_hash=_hash_secret(secret),
            scope=scope,
            allowed_cidrs=cidrs,
            expires_at=timezone.now() + timedelta(days=expires_days) if expires_days else None,
        )
        audit.record(
            actor=actor,
            action="apitoken.create",
            target=token,
            scope=scope,
            allowed_cidrs=cidrs,
            user=user.email,
        )
    return token, f"{prefix}.{secret}"


def revoke_api_token(*, actor: User, token: ApiToken) -> None:
    with transaction.atomic():
        audit.record(actor=actor, action="apitoken.revoke", target=token, user=token.user.email)
        token.delete()


def find_api_token(key: str) -> ApiToken | None:
    """The token a key belongs to, or None; the secret is compared in constant time."""
    prefix, _, secret = (key or "").partition(".")
    if not prefix or not secret:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=prefix).first()
    if token is None or not secrets.compare_digest(token.secret_hash, _hash_secret(secret)):
        return None
    return token


def mark_token_used(token: ApiToken, address: str | None) -> None:
    """Record use at most once a minute, so busy scripts do not write on every call."""
    now = timezone.now()
    if token.last_used_at and now - token.last_used_at < timedelta(minutes=1):
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=address)
