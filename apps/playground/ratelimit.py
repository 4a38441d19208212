"""One per-user budget of playground calls (page, streaming view and API together).

A fixed window in Django's cache, at ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
["playground"]`` (``30/minute`` by default).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate() -> tuple[int, int]:
    """(calls, seconds) of the configured rate."""
    text = settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).get(
        "playground", "30/minute"
    )
    calls, _, period = str(text).partition("/")
    return int(calls), _PERIODS[period.strip()[:1].lower() or "m"]


def hit(user_id: int) -> int | None:
    """Count one call; None when allowed, else the seconds to wait."""
    calls, period = rate()
    now = time.time()
    window = int(now // period)
    key = f"playground-rate:{user_id}:{window}"
    cache.add(key, 0, timeout=period + 1)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=period + 1)
        count = 1
    if count <= calls:
        return None
    return max(1, int((window + 1) * period - now))
