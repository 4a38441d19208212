"""`Authorization: Bearer <token>` for tools calling the API.

The token's scope is enforced here, where every token enters a request, so it
holds for every API view whatever permission classes the view declares: a
read-only token makes safe requests (GET, HEAD, OPTIONS) only. The one named
exception is a view that sets `STORES_NOTHING` (``POST /api/v1/framework/evaluate/``
computes an assessment and saves nothing).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from .models import ApiToken

# last_used_at is written at most this often, so reads stay reads.
LAST_USED_RESOLUTION = timedelta(minutes=1)

READ_ONLY_MESSAGE = "This API token is read-only."

#: The view attribute that lets a read-only token make unsafe requests; set it only
#: on a view whose unsafe methods store nothing (tests/api/test_read_scope.py lists
#: the views that do).
STORES_NOTHING = "stores_nothing"


def scope_allows(token: Any, method: str, view: Any) -> bool:
    """Whether ``token`` (``request.auth``) may make a ``method`` request of ``view``."""
    if not isinstance(token, ApiToken) or token.scope != ApiToken.Scope.READ:
        return True
    if method in permissions.SAFE_METHODS:
        return True
    return bool(getattr(view, STORES_NOTHING, False))


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):  # type: ignore[no-untyped-def]
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        key = header[1].decode(errors="replace")
        token = (
            ApiToken.objects.active()
            .select_related("user")
            .filter(key_hash=ApiToken.hash_key(key))
            .first()
        )
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        view = (getattr(request, "parser_context", None) or {}).get("view")
        if not scope_allows(token, request.method, view):
            raise exceptions.PermissionDenied(READ_ONLY_MESSAGE)
        now = timezone.now()
        if (
            token.last_used_at is None
            or now - token.last_used_at > LAST_USED_RESOLUTION
        ):
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):  # type: ignore[no-untyped-def]
        return self.keyword
