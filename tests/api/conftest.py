"""Helpers for the API tests: bearer tokens for the cast, a clean throttle cache."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.cache import cache

from apps.accounts.models import ApiToken, User


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():  # type: ignore[no-untyped-def]
    """Throttle counts live in the cache, which outlives a test's transaction."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def bearer(db) -> Callable[..., dict[str, str]]:  # type: ignore[no-untyped-def]
    """``bearer(user, scope="read")`` → headers for the test client."""

    def make(user: User, scope: str = ApiToken.Scope.READ) -> dict[str, str]:
        _, key = ApiToken.issue(user=user, name=f"{user.username}-{scope}", scope=scope)
        return {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    return make
