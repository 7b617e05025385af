from rest_framework import permissions

from panel.models import ApiToken


class TokenScopeAllows(permissions.BasePermission):
    """A read-scoped token may only read."""

    message = "This token is read-only."

    def has_permission(self, request, view):
        token = request.auth
        if isinstance(token, ApiToken) and token.scope == ApiToken.Scope.READ:
            return request.method in permissions.SAFE_METHODS
        return True


class IsAdminRole(permissions.BasePermission):
    message = "Only hosting staff may do this."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_admin)


class AdminWritesOnly(permissions.BasePermission):
    """Everyone signed in may read what they can see; only staff may change it. Changing what
    one cannot see is the 404 of a missing object, not a 403 that tells it exists."""

    message = "Only hosting staff may change this."

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return True
        if not (request.user and request.user.is_authenticated):
            return False
        if not request.user.is_admin:
            view.check_visible()
        return request.user.is_admin
