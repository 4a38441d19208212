"""Per-key limits, requests and tokens a minute, shared by every gateway process.

Fixed one-minute windows counted in Django's cache: Redis when ``CACHE_URL`` is
set, so the limit holds across processes and machines; the in-process cache of
the embedded default otherwise (one process). Tokens are counted when a request
ends, so the request that crosses the limit completes and the next is refused.
"""

from __future__ import annotations

import time

from django.core.cache import cache

from apps.gateway.errors import GatewayError
from apps.gateway.snapshot import KeySnapshot

WINDOW = 60


def _window() -> tuple[int, int]:
    now = time.time()
    window = int(now // WINDOW)
    return window, int((window + 1) * WINDOW - now) + 1


def _add(key: str, amount: int) -> int:
    cache.add(key, 0, WINDOW * 2)
    try:
        return int(cache.incr(key, amount))
    except ValueError:  # expired between add and incr
        cache.set(key, amount, WINDOW * 2)
        return amount


def check_and_count_request(snapshot: KeySnapshot) -> None:
    """Count this request; refuse it (429) when a limit of the key is reached."""
    if snapshot.requests_per_minute is None and snapshot.tokens_per_minute is None:
        return
    window, retry = _window()
    if snapshot.tokens_per_minute is not None:
        used = cache.get(f"gw:tpm:{snapshot.key_id}:{window}") or 0
        if used >= snapshot.tokens_per_minute:
            raise GatewayError(
                429,
                f"This key used {used:,} tokens this minute; its limit is "
                f"{snapshot.tokens_per_minute:,} a minute. Retry in {retry} s.",
                code="rate_limit_exceeded",
                headers={"retry-after": str(retry)},
            )
    if snapshot.requests_per_minute is not None:
        count = _add(f"gw:rpm:{snapshot.key_id}:{window}", 1)
        if count > snapshot.requests_per_minute:
            raise GatewayError(
                429,
                f"This key's limit is {snapshot.requests_per_minute:,} requests a "
                f"minute. Retry in {retry} s.",
                code="rate_limit_exceeded",
                headers={"retry-after": str(retry)},
            )


def count_tokens(snapshot: KeySnapshot, tokens: int) -> None:
    if snapshot.tokens_per_minute is not None and tokens:
        window, _ = _window()
        _add(f"gw:tpm:{snapshot.key_id}:{window}", tokens)
