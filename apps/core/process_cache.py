"""Values kept in each process's memory, dropped everywhere when what they came from changes.

Hot paths (the gateway's routing, the playground's path to the first token) read
rarely changing rows once per process instead of once per request. A change
calls :meth:`VersionedCache.invalidate`, which writes a new version to the
shared cache (Redis when ``CACHE_URL`` is set); every process compares its
version with the shared one at most every ``check_every`` seconds, so a change
is seen everywhere within that time, and an entry is read again after ``ttl``
seconds in any case. Checking the version reads the shared cache, never the
database.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache
from django.db import connection

MISSING: Any = object()


class VersionedCache:
    def __init__(self, name: str, *, ttl: float = 30.0, check_every: float = 1.0):
        self.version_key = f"{name}:version"
        self.ttl = ttl
        self.check_every = check_every
        self.values: dict[Any, tuple[float, Any]] = {}
        self.version: Any = None
        self.checked = 0.0

    def check_version(self) -> bool:
        """Drop everything if another process changed the version; True if dropped."""
        now = time.monotonic()
        if now - self.checked < self.check_every:
            return False
        self.checked = now
        version = cache.get(self.version_key)
        if version == self.version:
            return False
        self.version = version
        self.clear()
        return True

    def get(self, key: Any) -> Any:
        """The value kept for ``key``, or :data:`MISSING`."""
        self.check_version()
        found = self.values.get(key)
        if found is None or time.monotonic() - found[0] > self.ttl:
            return MISSING
        return found[1]

    def set(self, key: Any, value: Any) -> Any:
        """Keep ``value`` (and return it), unless it was read inside a transaction,
        which may yet roll back what it read."""
        if not connection.in_atomic_block:
            self.values[key] = (time.monotonic(), value)
        return value

    def clear(self) -> None:
        """Forget this process's values only."""
        self.values.clear()

    def invalidate(self) -> None:
        """Tell every process to read its values again."""
        version = time.time_ns()
        cache.set(self.version_key, version, None)
        self.version = version  # this process is up to date already
        self.checked = time.monotonic()
        self.clear()
