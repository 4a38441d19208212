from django.http import HttpRequest

from .roles import Role


def roles(request: HttpRequest) -> dict[str, object]:
    """Expose the signed-in user's roles to templates for role-based navigation."""
    user = getattr(request, "user", None)
    held = user.roles if user is not None and user.is_authenticated else frozenset()
    return {"roles": held, "Role": Role}
