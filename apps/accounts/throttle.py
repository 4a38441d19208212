"""Password sign-in throttling, per account and per client address.

Failures are counted in the cache (shared across processes when ``CACHE_URL`` points
at Redis) within ``SIGN_IN_LOCKOUT_SECONDS``. An account that reaches
``SIGN_IN_FAILURE_LIMIT`` failures, or an address that reaches
``SIGN_IN_ADDRESS_FAILURE_LIMIT``, is refused for ``SIGN_IN_LOCKOUT_SECONDS``, even
with the right password. Attempts during a lockout are refused without counting, so
a lockout always ends on time: nobody, the break-glass superuser included, can be
locked out for good. ``manage.py unlock_sign_in`` lifts one early.

The throttle sits in the authentication backend, so every password form (the
sign-in page and the admin's) goes through it.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import Signal
from django.http import HttpRequest

# Sent once when an account or an address becomes locked; the audit trail records
# it (apps/usecases/apps.py). Arguments: request, username, address, scope, until.
sign_in_locked = Signal()

PREFIX = "sign-in-throttle"


@dataclass(frozen=True)
class Lockout:
    """Why and until when sign-ins are refused."""

    scope: str  # "account" or "address"
    until: float  # seconds since the epoch

    @property
    def minutes_left(self) -> int:
        return max(1, math.ceil((self.until - _now()) / 60))


def _now() -> float:
    return time.time()


def _keys(username: str, address: str) -> dict[str, str]:
    # Hashed: cache keys stay short and free of a user's arbitrary characters.
    account = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
    return {
        "account": f"{PREFIX}:account:{account}",
        "address": f"{PREFIX}:address:{address}",
    }


def _limits() -> dict[str, int]:
    return {
        "account": settings.SIGN_IN_FAILURE_LIMIT,
        "address": settings.SIGN_IN_ADDRESS_FAILURE_LIMIT,
    }


def client_address(request: HttpRequest) -> str:
    """The peer address; behind a proxy the ASGI server must set it from the
    forwarded header it trusts (uvicorn's ``FORWARDED_ALLOW_IPS``)."""
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def current_lockout(*, username: str, address: str) -> Lockout | None:
    """The lockout refusing this account or address now, if any."""
    now = _now()
    for scope, key in _keys(username, address).items():
        until = cache.get(f"{key}:locked")
        if until is not None and until > now:
            return Lockout(scope=scope, until=until)
    return None


def record_failure(*, username: str, address: str) -> list[Lockout]:
    """Count a failed sign-in; return the lockouts it starts (usually none)."""
    now = _now()
    window = settings.SIGN_IN_LOCKOUT_SECONDS
    started = []
    for scope, key in _keys(username, address).items():
        counter = f"{key}:failures"
        cache.add(counter, 0, timeout=window)
        try:
            failures = cache.incr(counter)
        except ValueError:  # expired between add and incr
            cache.add(counter, 1, timeout=window)
            failures = 1
        if failures < _limits()[scope]:
            continue
        until = now + window
        # add(), not set(): of concurrent failures only one starts the lockout.
        lock = f"{key}:locked"
        if not cache.add(lock, until, timeout=window):
            held = cache.get(lock)
            if held is not None and held > now:
                continue
            cache.set(lock, until, timeout=window)  # an expired one, past its clock
        cache.delete(counter)
        started.append(Lockout(scope=scope, until=until))
    return started


def clear(*, username: str = "", address: str = "") -> None:
    """Lift the lockout and forget the failures of an account and/or an address."""
    keys = _keys(username, address)
    for scope, value in (("account", username), ("address", address)):
        if value:
            cache.delete_many([f"{keys[scope]}:failures", f"{keys[scope]}:locked"])


class ThrottledModelBackend(ModelBackend):
    """Django's model backend behind the sign-in throttle.

    A refused attempt sets ``request.sign_in_lockout`` for the page to explain it;
    the password is not even checked then.
    """

    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if password is None:  # not a password sign-in (the OpenID callback)
            return None
        if request is None:  # no client to throttle (management commands, tests)
            return super().authenticate(
                request, username=username, password=password, **kwargs
            )
        name = username or kwargs.get(self._username_field(), "") or ""
        address = client_address(request)
        lockout = current_lockout(username=name, address=address)
        if lockout is not None:
            request.sign_in_lockout = lockout  # type: ignore[attr-defined]
            raise PermissionDenied("Too many failed sign-ins.")
        user = super().authenticate(
            request, username=username, password=password, **kwargs
        )
        if user is not None:
            clear(username=name)  # the address keeps its count
            return user
        for started in record_failure(username=name, address=address):
            sign_in_locked.send(
                sender=type(self),
                request=request,
                username=name,
                address=address,
                scope=started.scope,
                until=started.until,
            )
        lockout = current_lockout(username=name, address=address)
        if lockout is not None:
            request.sign_in_lockout = lockout  # type: ignore[attr-defined]
        return None

    def user_can_authenticate(self, user: Any) -> bool:
        # LOCAL_PASSWORD_SIGN_IN off: superusers only (break-glass, docs/sign-in.md).
        return super().user_can_authenticate(user) and bool(
            settings.LOCAL_PASSWORD_SIGN_IN or getattr(user, "is_superuser", False)
        )

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return str(get_user_model().USERNAME_FIELD)
