"""Two-factor login: an authenticator app (TOTP, on django-otp's `Device` and `TOTP`) and
one-time recovery codes for when the app is lost.

The app's secret is encrypted at rest (panel.encryption), recovery codes are kept as hashes,
and a code is accepted at most once: the device keeps the last time step it accepted, and
only a later one passes (a conditional update, so two requests cannot both spend one code).
Wrong codes count in the one login throttle (panel.logins), whatever the surface.
"""

import base64
import hashlib
import re
import secrets
from urllib.parse import quote, urlencode

import segno
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from dci import sessions
from panel import audit, logins
from panel.encryption import decrypt, encrypt
from panel.exceptions import Conflict, NotAllowed
from panel.models import RecoveryCode, TotpDevice, User

ISSUER = "Metalpanel"
RECOVERY_CODE_COUNT = 10
FIRST_CODE_WRONG = "That code is not right. Check the phone's clock; type the code shown now."
WRONG_CODE = "That code is not right. Use the 6 digits the app shows now, or a recovery code."
REPLAYED_CODE = "That code was already used. Wait for the next one your app shows."


def has_second_factor(user: User) -> bool:
    return TotpDevice.objects.filter(user=user, confirmed=True).exists()


def enabled_annotation() -> Exists:
    """For `User.objects.annotate(...)`: whether each has a second factor (one query for all)."""
    return Exists(TotpDevice.objects.filter(user=OuterRef("pk"), confirmed=True))


def is_required(user: User) -> bool:
    """Staff (when PANEL_STAFF_TWO_FACTOR_REQUIRED) and accounts flagged by staff must use it."""
    return user.two_factor_required or (user.is_admin and settings.PANEL_STAFF_TWO_FACTOR_REQUIRED)


def must_enrol(user: User) -> bool:
    return is_required(user) and not has_second_factor(user)


def _session_digest(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()


def start_enrolment(*, actor: User, session_key: str) -> TotpDevice:
    """The device being set up in the session `session_key`, bound to it: the first call in a
    session makes a new secret (any other session's unconfirmed one is replaced, so a secret
    seen before is worthless), audited; a reload in the same session shows the same secret, so
    an app already scanned still works."""
    digest = _session_digest(session_key)
    with transaction.atomic():
        device = TotpDevice.objects.select_for_update().filter(user=actor).first()
        if device is not None and device.confirmed:
            raise Conflict("Two-factor login is already on.")
        if device is not None and constant_time_compare(device.enrolling_session, digest):
            return device
        device = device or TotpDevice(user=actor, name="Authenticator app", confirmed=False)
        device.encrypted_key = encrypt(secrets.token_hex(20))
        device.last_t = -1
        device.enrolling_session = digest
        device.save()
        audit.record(actor=actor, action="twofactor.enrol_started", target=actor)
    return device


def secret_text(device: TotpDevice) -> str:
    """The secret as an authenticator app takes it when typed: base32, in groups of four."""
    encoded = base64.b32encode(bytes.fromhex(decrypt(device.encrypted_key))).decode()
    return " ".join(encoded[i : i + 4] for i in range(0, len(encoded), 4))


def provisioning_uri(device: TotpDevice) -> str:
    """The otpauth:// URI of the Key Uri Format that authenticator apps read from a QR code."""
    params = {
        "secret": secret_text(device).replace(" ", ""),
        "issuer": ISSUER,
        "algorithm": "SHA1",
        "digits": 6,
        "period": 30,
    }
    return f"otpauth://totp/{quote(f'{ISSUER}:{device.user.email}')}?{urlencode(params)}"


def qr_code_svg(device: TotpDevice) -> str:
    """The URI as a QR code, an inline SVG drawn here (no image service sees the secret)."""
    return segno.make(provisioning_uri(device), error="m").svg_inline(
        scale=5, dark="#000", light="#fff", title="QR code for your authenticator app"
    )


def _spend_totp(device: TotpDevice, code: str) -> bool | None:
    """True: the app's code, now spent; False: the app's code of a time step already spent (a
    replay); None: not the app's code."""
    if not re.fullmatch(r"[0-9]{6}", code):
        return None
    totp = device.totp()
    if not totp.verify(int(code), tolerance=1):
        return None
    step = totp.t()  # the step of the code that matched, within one step either side of now
    spent = TotpDevice.objects.filter(pk=device.pk, last_t__lt=step)
    return spent.update(last_t=step, last_used_at=timezone.now()) == 1


def _recovery_hash(code: str) -> str:
    return hashlib.sha256(re.sub(r"[\s-]", "", code).lower().encode()).hexdigest()


def _use_recovery_code(device: TotpDevice, code: str) -> bool:
    unused = device.recovery_codes.filter(code_hash=_recovery_hash(code), used_at=None)
    return unused.update(used_at=timezone.now()) == 1


def _new_recovery_codes(device: TotpDevice) -> list[str]:
    device.recovery_codes.all().delete()
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = secrets.token_hex(8)
        codes.append("-".join(raw[i : i + 4] for i in range(0, len(raw), 4)))
    RecoveryCode.objects.bulk_create(
        RecoveryCode(device=device, code_hash=_recovery_hash(code)) for code in codes
    )
    return codes


def unused_recovery_codes(user: User) -> int:
    return RecoveryCode.objects.filter(device__user=user, used_at=None).count()


def confirm_enrolment(*, actor: User, session_key: str, code: str) -> list[str]:
    """Turn two-factor login on once the app gives a right code, in the session that started
    the set-up only; the person's other sessions end. Answers the recovery codes, which are
    shown this once."""
    digest = _session_digest(session_key)
    with transaction.atomic():  # locked: another session cannot renew the secret meanwhile
        device = TotpDevice.objects.select_for_update().filter(user=actor, confirmed=False).first()
        if device is None or not constant_time_compare(device.enrolling_session, digest):
            raise Conflict("Start the set-up again: there is no authenticator app waiting.")
        if not _spend_totp(device, code.strip().replace(" ", "")):
            raise ValidationError({"code": FIRST_CODE_WRONG})
        device.confirmed, device.enrolling_session = True, ""
        device.save(update_fields=["confirmed", "enrolling_session"])
        codes = _new_recovery_codes(device)
        audit.record(actor=actor, action="twofactor.enable", target=actor)
        _end_other_sessions(actor=actor, user=actor)
    return codes


def _end_other_sessions(*, actor: User, user: User) -> None:
    """After the second factor changed: the user's web sessions end (a new session auth hash;
    the caller keeps its own with update_session_auth_hash) and so do their DCI sessions."""
    User.objects.filter(pk=user.pk).update(session_generation=F("session_generation") + 1)
    user.refresh_from_db(fields=["session_generation"])
    sessions.revoke_user_sessions(actor=actor, user=user)


def replace_recovery_codes(*, actor: User, code: str, address: str | None) -> list[str]:
    """New recovery codes in place of all the old ones, on a current code; shown once."""
    check_code(user=actor, code=code, address=address)
    device = TotpDevice.objects.get(user=actor, confirmed=True)
    with transaction.atomic():
        codes = _new_recovery_codes(device)
        audit.record(actor=actor, action="twofactor.recovery_codes", target=actor)
    return codes


def check_code(*, user: User, code: str, address: str | None) -> str:
    """Which second factor accepted `code`: "totp" or "recovery_code". A wrong code counts as
    a failed login in the throttle; while the throttle refuses, no code is even tried
    (ValidationError, code "throttled" or "wrong_code")."""
    logins.check_allowed(user.email, address)
    device = TotpDevice.objects.filter(user=user, confirmed=True).first()
    code = code.strip()
    message = WRONG_CODE
    if device is not None:
        spent = _spend_totp(device, code.replace(" ", ""))
        if spent:
            return "totp"
        if spent is False:
            message = REPLAYED_CODE
        elif _use_recovery_code(device, code):
            return "recovery_code"
    logins.record_failure(user.email, address)
    raise ValidationError(message, code="wrong_code")


def login_with_code(*, user: User, code: str, address: str | None, via: str) -> str:
    """The second step of a login on any surface (`via`): `check_code`, a refusal audited."""
    try:
        return check_code(user=user, code=code, address=address)
    except ValidationError as exc:
        if exc.code == "wrong_code":
            audit.record(
                actor=user, action="user.login_failed", target=user, reason="code", via=via
            )
        raise


def disable(*, actor: User, code: str, address: str | None) -> User:
    """Turn it off, on a current code (or a recovery code) from the person themself; their
    other sessions end."""
    if is_required(actor):
        raise NotAllowed("Your account must use two-factor login; it cannot be turned off.")
    try:
        check_code(user=actor, code=code, address=address)
    except ValidationError as exc:
        if exc.code == "wrong_code":
            audit.record(actor=actor, action="twofactor.disable_refused", target=actor)
        raise
    with transaction.atomic():
        TotpDevice.objects.filter(user=actor).delete()
        audit.record(actor=actor, action="twofactor.disable", target=actor)
        _end_other_sessions(actor=actor, user=actor)
    return actor


def reset(*, actor: User, user: User) -> User:
    """Staff remove someone's second factor (a lost phone and no recovery code left): they
    log in with their password alone, or enrol again at the next login where it is required.
    Their sessions end. Not one's own: that is turning it off, which asks for a code."""
    if not actor.is_admin:
        raise NotAllowed("Only staff can reset a second factor.")
    if actor.pk == user.pk:
        raise NotAllowed(
            "You cannot reset your own second factor: turn it off in your portal settings, "
            "with a code from your app."
        )
    with transaction.atomic():
        deleted, _ = TotpDevice.objects.filter(user=user).delete()
        if not deleted:
            raise Conflict(f"{user.email} has no second factor to reset.")
        audit.record(actor=actor, action="twofactor.reset", target=user)
        _end_other_sessions(actor=actor, user=user)
    return user
