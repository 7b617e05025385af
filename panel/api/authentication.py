"""`Authorization: Token <key>` for billing systems and scripts."""

from rest_framework import authentication, exceptions

from panel import services
from panel.sources import client_address


class ApiTokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        address = client_address(request._request)
        if not token.allows_address(address):
            raise exceptions.AuthenticationFailed(f"This token may not be used from {address}.")
        services.mark_token_used(token, address)
        return user, token

    def authenticate_credentials(self, key):
        token = services.find_api_token(key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if token.is_expired:
            raise exceptions.AuthenticationFailed("This token has expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This user is inactive.")
        return token.user, token
