from rest_framework import permissions

from apps.accounts.authentication import READ_ONLY_MESSAGE, scope_allows


class TokenScope(permissions.BasePermission):
    """A read-only token may only read, whatever its user's role.

    The default permission of every API view (``REST_FRAMEWORK`` in settings). The
    token authentication enforces the same rule before any permission runs, so a
    view that declares its own ``permission_classes`` cannot drop it; the one
    exception is a view marked ``stores_nothing`` (``framework/evaluate/``).
    """

    message = READ_ONLY_MESSAGE

    def has_permission(self, request, view):  # type: ignore[no-untyped-def]
        return scope_allows(request.auth, request.method, view)


def has_role(*roles: str) -> type[permissions.BasePermission]:
    """A permission class admitting users holding any of `roles` (or superusers)."""

    class HasRole(permissions.BasePermission):
        message = "Your role does not allow this."

        def has_permission(self, request, view):  # type: ignore[no-untyped-def]
            user = request.user
            return bool(user and user.is_authenticated and user.has_role(*roles))

    HasRole.__name__ = f"HasRole_{'_'.join(roles)}"
    return HasRole
