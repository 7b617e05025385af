"""How ISPsystem clients authenticate: the session token of `POST /api/auth/v4/public/token`
sent back as the `ses6` cookie, the `x-xsrf-token` header, or both.

A cookie travels with any request a browser makes, so a write (POST, PUT, PATCH, DELETE)
authenticated by the cookie alone is refused: it must carry the token in `x-xsrf-token` too,
which another site's page cannot set.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from dci import sessions
from panel.sources import client_address

COOKIE = "ses6"
HEADER = "x-xsrf-token"


class DciSessionAuthentication(authentication.BaseAuthentication):
    """Returns `(user, DciSession)`; a session is full access for its user (no scopes)."""

    def authenticate(self, request):
        cookie = request.COOKIES.get(COOKIE)
        header = request.headers.get(HEADER) or None  # an empty header is no header
        token = header or cookie
        if not token:
            return None
        session = sessions.find_live_session(token)
        if session is None:
            raise exceptions.AuthenticationFailed(
                "This session is unknown, expired or revoked; log in again."
            )
        if not session.user.is_active:
            raise exceptions.AuthenticationFailed("This user is inactive.")
        if request.method not in permissions.SAFE_METHODS and header is None:
            raise exceptions.PermissionDenied(
                f"CSRF: a {request.method} authenticated by the {COOKIE} cookie must send "
                f"the same token in the {HEADER} header."
            )
        sessions.mark_session_used(session, client_address(request._request))
        return session.user, session

    def authenticate_header(self, request):
        return f'{COOKIE} realm="api"'


class DciSessionScheme(OpenApiAuthenticationExtension):
    """The OpenAPI security schemes: the header, or the cookie (reads only, alone)."""

    target_class = DciSessionAuthentication
    name = ["dciSessionHeader", "dciSessionCookie"]

    def get_security_requirement(self, auto_schema):
        return [{name: []} for name in self.name]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": HEADER},
            {"type": "apiKey", "in": "cookie", "name": COOKIE},
        ]
