from rest_framework.throttling import SimpleRateThrottle

from apps.accounts.models import ApiToken


class PerTokenRateThrottle(SimpleRateThrottle):
    """One budget per API token (tools), per user (sessions) or per address."""

    scope = "per_token"

    def get_cache_key(self, request, view):  # type: ignore[no-untyped-def]
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
