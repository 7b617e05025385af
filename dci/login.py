"""Log in and out of the DCImanager-compatible API, as ISPsystem's auth v4 does.

`POST /api/auth/v4/public/token {"email", "password"}` answers 201 `{"token", "expires_at"}`
(an account with two-factor login also sends `"otp"`: the authenticator app's code or a
recovery code);
the client sends the token back as the `ses6` cookie and/or the `x-xsrf-token` header.
`DELETE /api/auth/v4/token` ends the session that authenticates it (the token is never put in
a URL, where access logs would keep it).

The password goes through Django's `authenticate()` and the code through panel.twofactor, so
panel.logins' throttle counts these failures with the portal's and the admin's, and refuses
here while it refuses there.
"""

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from dci import sessions
from dci.api.base import DciPublicView, DciView
from dci.authentication import DciSessionAuthentication
from dci.errors import error_response, error_responses
from panel import logins, twofactor
from panel.api.serializers import StrictSerializer
from panel.sources import client_address


class TokenRequestSerializer(StrictSerializer):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    otp = serializers.CharField(
        max_length=32,
        required=False,
        help_text="For an account with two-factor login: the code its authenticator app shows "
        "now, or one of its recovery codes",
    )


class TokenSerializer(StrictSerializer):
    token = serializers.CharField(help_text="Send back as the ses6 cookie or x-xsrf-token header")
    expires_at = serializers.DateTimeField(help_text="Moves forward while the session is used")


class TokenView(DciPublicView):
    """Log in with email and password; the answer's token is shown once (so it is no
    Idempotency-Key view: a stored answer would keep the token)."""

    @extend_schema(
        operation_id="dci_auth_token_create",
        summary="Log in (DCImanager auth v4)",
        request=TokenRequestSerializer,
        responses={201: TokenSerializer, **error_responses(403, 429)},
        auth=[],
    )
    def post(self, request):
        given = TokenRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        email, password = given.validated_data["email"], given.validated_data["password"]
        django_request = request._request
        address = client_address(django_request)
        user = authenticate(django_request, username=email, password=password)
        if user is None:
            _refuse_if_throttled(email, address)
            return error_response(status.HTTP_401_UNAUTHORIZED, "Wrong email or password.")
        second_factor = None
        if twofactor.has_second_factor(user):
            code = given.validated_data.get("otp")
            if not code:
                return error_response(
                    status.HTTP_401_UNAUTHORIZED,
                    'This account logs in with two factors: send "otp", the code its '
                    "authenticator app shows now.",
                )
            try:
                second_factor = twofactor.login_with_code(
                    user=user, code=code, address=address, via="dci"
                )
            except DjangoValidationError as exc:
                _refuse_if_throttled(email, address)
                return error_response(status.HTTP_401_UNAUTHORIZED, exc.messages[0])
        elif twofactor.must_enrol(user):
            return error_response(
                status.HTTP_403_FORBIDDEN,
                "This account must log in with two factors: set them up in the portal first.",
            )
        session, token = sessions.open_session(actor=user, source_ip=address)
        logins.record_login(user=user, via="dci", second_factor=second_factor)
        body = TokenSerializer({"token": token, "expires_at": session.expires_at}).data
        return Response(body, status=status.HTTP_201_CREATED)


def _refuse_if_throttled(email: str, address: str | None) -> None:
    """A refusal by the throttle says so (429, Retry-After), not "wrong password"."""
    try:
        logins.check_allowed(email, address)
    except DjangoValidationError as exc:
        raise exceptions.Throttled(
            wait=settings.PANEL_LOGIN_LOCKOUT_SECONDS, detail=exc.messages[0]
        ) from exc


class LogoutView(DciView):
    """End the session this request is authenticated by."""

    authentication_classes = [DciSessionAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="dci_auth_token_destroy",
        summary="Log out (end this DCI session)",
        request=None,
        responses={204: None, **error_responses()},
    )
    def delete(self, request):
        sessions.revoke_session(actor=request.user, session=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


token_view = TokenView.as_view()
logout_view = LogoutView.as_view()
