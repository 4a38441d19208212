"""Per-token throttling: each tool gets its own budget, whatever its user.

Counts live in Django's default cache. The default cache is per process, so with
several workers each has its own count; production points ``CACHES`` at Redis (or
any shared cache) to make the budget global.
"""

from django.core.exceptions import ImproperlyConfigured
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from apps.accounts.models import ApiToken


class PerTokenRateThrottle(SimpleRateThrottle):
    """One budget per API token (tools), per user (sessions) or per address."""

    scope = "per_token"

    def get_rate(self) -> str | None:
        # DRF binds THROTTLE_RATES when the module is imported, so a changed setting
        # (an override in a test, a reloaded configuration) would never be seen.
        try:
            return api_settings.DEFAULT_THROTTLE_RATES[self.scope]
        except KeyError as exc:
            raise ImproperlyConfigured(f"No throttle rate for {self.scope!r}.") from exc

    def get_cache_key(self, request, view):  # type: ignore[no-untyped-def]
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
