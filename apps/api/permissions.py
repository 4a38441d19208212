from rest_framework import permissions

from apps.accounts.models import ApiToken


class TokenScope(permissions.BasePermission):
    """A read-only token may only read, whatever its user's role."""

    message = "This API token is read-only."

    def has_permission(self, request, view):  # type: ignore[no-untyped-def]
        token = request.auth
        if isinstance(token, ApiToken) and token.scope == ApiToken.Scope.READ:
            return request.method in permissions.SAFE_METHODS
        return True


def has_role(*roles: str) -> type[permissions.BasePermission]:
    """A permission class admitting users holding any of `roles` (or superusers)."""

    class HasRole(permissions.BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request, view):  # type: ignore[no-untyped-def]
            user = request.user
            return bool(user and user.is_authenticated and user.has_role(*roles))

    HasRole.__name__ = f"HasRole_{'_'.join(roles)}"
    return HasRole
