"""Polling endpoints: claiming the due ones, fetching, and recording the outcome.

Rules (DESIGN §5, docs/usage-collection.md):

- no database transaction is open during an HTTP call: a poll fetches first, then
  stores everything in one short transaction that locks the endpoint row;
- every poll holds a claim (a token on the endpoint row) and stores only while it
  still holds it: a poll started later for the same endpoint — the beat after the
  lease, ``collect_usage --endpoint``, a re-pointed URL — takes the claim over and
  the earlier poll's late answer is dropped. Two polls of one endpoint therefore
  never both count the same counter increase;
- the claim lease is one poll interval, so an endpoint whose task was lost (broker
  restarted empty, worker killed, database connection dropped) is due again then.
"""

from __future__ import annotations

import contextlib
import logging
import time as monotonic_time
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.core import crypto
from apps.core.events import Event, EventKind, emit
from apps.core.http import make_client
from apps.endpoints.collectors import (
    CollectorError,
    Reading,
    UnknownKind,
    get_collector,
)
from apps.endpoints.models import FAILING_AFTER, PollEvent, ServingEndpoint
from apps.endpoints.services.storage import store_batch, writing

logger = logging.getLogger(__name__)

#: Polls stored per transaction on the inline path.
WRITE_BATCH = 100
#: How far back a bucket collector reads on its first poll.
FIRST_WINDOW = timedelta(days=7)


class TransientCollectionError(Exception):
    """A poll that failed in a way a retry may fix (timeout, 429, 5xx, reset)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll of one endpoint did."""

    endpoint_id: int
    ok: bool
    readings: int = 0
    message: str = ""
    transient: bool = False


@dataclass(frozen=True, slots=True)
class Fetched:
    """What one poll's network phase brought back (no database involved).

    ``now`` is when the poll started; ``claim`` the token it holds (None: store
    whatever the claim, for callers that serialise polls themselves).
    """

    endpoint_id: int
    now: datetime
    readings: list[Reading] | None = None
    collected_until: datetime | None = None
    message: str = ""
    transient: bool = False
    retry_after: float | None = None
    duration_ms: int = 0
    claim: str | None = None
    refused: list[str] = field(default_factory=list)


def claim_due_endpoints(
    *, now: datetime | None = None, limit: int | None = None
) -> dict[int, str]:
    """Claim the endpoints due for a poll; return the claim token of each.

    One conditional UPDATE per distinct lease: two beat ticks (or a tick and a
    command) never claim the same endpoint, because the UPDATE re-checks that each
    is still due and pushes its next poll a lease ahead. The poll sets the real
    next time when it ends.
    """
    now = now or timezone.now()
    token = uuid.uuid4().hex
    due = ServingEndpoint.objects.due(now).order_by("next_poll_at", "pk")
    rows = list(due.values_list("pk", "poll_interval_seconds")[:limit])
    if not rows:
        return {}
    _claim(ServingEndpoint.objects.due(now), rows, token=token, now=now)
    claimed = ServingEndpoint.objects.filter(claim_token=token)
    return dict.fromkeys(claimed.values_list("pk", flat=True), token)


def take_over(*, endpoint_ids: Sequence[int], now: datetime | None = None) -> str:
    """Claim ``endpoint_ids`` now, due or not; an in-flight poll of them is dropped."""
    now = now or timezone.now()
    token = uuid.uuid4().hex
    rows = ServingEndpoint.objects.filter(pk__in=endpoint_ids).values_list(
        "pk", "poll_interval_seconds"
    )
    _claim(ServingEndpoint.objects.all(), rows, token=token, now=now)
    return token


def _claim(
    query: QuerySet[ServingEndpoint],
    rows: Iterable[tuple[int, int]],
    *,
    token: str,
    now: datetime,
) -> None:
    """Write ``token`` on the (pk, poll interval) ``rows`` that ``query`` still
    holds, a lease ahead: one UPDATE per distinct lease."""
    by_interval: dict[int, list[int]] = {}
    for pk, seconds in rows:
        by_interval.setdefault(seconds, []).append(pk)
    for seconds, ids in by_interval.items():
        lease = ServingEndpoint(poll_interval_seconds=seconds).claim_lease()
        query.filter(pk__in=ids).update(claim_token=token, next_poll_at=now + lease)


def renew_claim(*, endpoint_id: int, claim: str, now: datetime | None = None) -> bool:
    """Extend ``claim`` by a lease before a retry polls again; False once it is lost."""
    now = now or timezone.now()
    endpoint = (
        ServingEndpoint.objects.filter(pk=endpoint_id, claim_token=claim)
        .only("pk", "poll_interval_seconds")
        .first()
    )
    if endpoint is None:
        return False
    return bool(
        ServingEndpoint.objects.filter(pk=endpoint_id, claim_token=claim).update(
            next_poll_at=now + endpoint.claim_lease()
        )
    )


def collect_endpoint(
    *,
    endpoint_id: int,
    claim: str | None = None,
    now: datetime | None = None,
    client: httpx.Client | None = None,
) -> PollResult:
    """Poll one endpoint and store what it reports; record the outcome.

    Without ``claim`` the poll takes the endpoint over first. Raises
    :class:`TransientCollectionError` (after recording the failure) when a retry
    may help. The key is decrypted here and goes nowhere but the request.
    """
    if claim is None:
        claim = take_over(endpoint_ids=[endpoint_id])
    endpoint = ServingEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return PollResult(endpoint_id, ok=False, message="No such endpoint.")
    if endpoint.claim_token != claim:
        return PollResult(endpoint_id, ok=False, message=SUPERSEDED)
    fetched = fetch(endpoint, now=now or timezone.now(), client=client, claim=claim)
    result = _record_one(fetched)
    if result.transient:
        raise TransientCollectionError(fetched.message, retry_after=fetched.retry_after)
    return result


SUPERSEDED = "Another poll of this endpoint took over; this one stored nothing."


def fetch(
    endpoint: ServingEndpoint,
    *,
    now: datetime,
    client: httpx.Client | None,
    claim: str | None = None,
) -> Fetched:
    """Call the endpoint; touches no database, so it can run in any thread."""
    started = monotonic_time.monotonic()
    try:
        collector = get_collector(endpoint.kind)
        api_key = endpoint.decrypt_api_key()
    except UnknownKind as exc:
        return Fetched(endpoint.pk, now, message=str(exc), claim=claim)
    except crypto.DecryptionError:
        return Fetched(
            endpoint.pk,
            now,
            message="The stored API key cannot be decrypted; enter it again.",
            claim=claim,
        )
    since = _window_start(endpoint, collector.lookback, now)
    try:
        readings: list[Reading] = []
        if collector.mode != "none":
            with contextlib.ExitStack() as stack:
                if client is None:
                    client = stack.enter_context(
                        make_client(timeout=settings.ENDPOINT_TIMEOUT_SECONDS)
                    )
                readings = collector.collect(
                    client,
                    base_url=endpoint.base_url,
                    api_key=api_key,
                    since=since,
                    until=now,
                )
    except CollectorError as exc:
        return Fetched(
            endpoint.pk,
            now,
            message=exc.message,
            transient=exc.transient,
            retry_after=exc.retry_after,
            duration_ms=_elapsed_ms(started),
            claim=claim,
        )
    except Exception as exc:
        return Fetched(
            endpoint.pk,
            now,
            message=f"Unexpected error while polling ({type(exc).__name__}).",
            duration_ms=_elapsed_ms(started),
            claim=claim,
        )
    finally:
        del api_key
    return Fetched(
        endpoint.pk,
        now,
        readings=readings,
        collected_until=now if collector.mode == "bucket" else None,
        duration_ms=_elapsed_ms(started),
        claim=claim,
    )


def _record_one(fetched: Fetched) -> PollResult:
    """Store a fetch's readings, or record its failure."""
    endpoint_id = fetched.endpoint_id
    if fetched.readings is None:
        if not record_failure(fetched):
            return PollResult(endpoint_id, ok=False, message=SUPERSEDED)
        logger.warning("Polling endpoint %s failed: %s", endpoint_id, fetched.message)
        return PollResult(
            endpoint_id, ok=False, message=fetched.message, transient=fetched.transient
        )
    stored = store_batch([fetched])
    if endpoint_id not in stored:
        return PollResult(endpoint_id, ok=False, message=SUPERSEDED)
    logger.info("Polled endpoint %s: %d readings", endpoint_id, stored[endpoint_id])
    return PollResult(endpoint_id, ok=True, readings=stored[endpoint_id])


def collect_endpoints_inline(
    *,
    endpoint_ids: Sequence[int] | None = None,
    now: datetime | None = None,
    concurrency: int | None = None,
) -> list[PollResult]:
    """Poll endpoints in this process, concurrently: the due ones, or those given.

    The command and the benchmark use this; the beat tick fans out Celery tasks
    instead. Endpoints given by id are taken over (a poll of them in flight
    elsewhere stores nothing). Threads only make the HTTP calls (one shared,
    guarded client); this thread stores the results in batches as they arrive, so
    the database sees one connection whatever the concurrency. No retries here:
    the next cycle polls a failed endpoint again.
    """
    now = now or timezone.now()
    if endpoint_ids is None:
        claims = claim_due_endpoints(now=now)
    else:
        token = take_over(endpoint_ids=endpoint_ids, now=now)
        claims = dict.fromkeys(endpoint_ids, token)
    ids = list(claims)
    if not ids:
        return []
    endpoints = ServingEndpoint.objects.in_bulk(ids)
    results = [
        PollResult(pk, ok=False, message="No such endpoint.")
        for pk in ids
        if pk not in endpoints
    ]
    workers = max(1, min(len(endpoints), concurrency or _default_concurrency()))
    # One client for the cycle: building a TLS context per poll costs more CPU
    # than the poll itself.
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    with (
        make_client(timeout=settings.ENDPOINT_TIMEOUT_SECONDS, limits=limits) as client,
        ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll") as pool,
    ):
        futures = [
            pool.submit(fetch, endpoints[pk], now=now, client=client, claim=claims[pk])
            for pk in ids
            if pk in endpoints
        ]
        batch: list[Fetched] = []
        for future in as_completed(futures):
            batch.append(future.result())
            if len(batch) >= WRITE_BATCH:
                _store_fetched(batch, results)
                batch = []
        _store_fetched(batch, results)
    order = {pk: index for index, pk in enumerate(ids)}
    return sorted(results, key=lambda result: order[result.endpoint_id])


def _store_fetched(batch: list[Fetched], results: list[PollResult]) -> None:
    successes = [item for item in batch if item.readings is not None]
    for item in batch:
        if item.readings is None:
            results.append(_record_one(item))
    if not successes:
        return
    try:
        counts = store_batch(successes)
    except Exception:
        logger.exception("Storing %d polls failed", len(successes))
        results.extend(
            PollResult(item.endpoint_id, ok=False, message="Storing failed.")
            for item in successes
        )
        return
    results.extend(
        PollResult(item.endpoint_id, ok=True, readings=counts[item.endpoint_id])
        if item.endpoint_id in counts
        else PollResult(item.endpoint_id, ok=False, message=SUPERSEDED)
        for item in successes
    )


def record_failure(fetched: Fetched) -> bool:
    """Mark a failed poll, unless another poll took the endpoint over (then False)."""
    with writing():
        query = ServingEndpoint.objects.select_for_update().filter(
            pk=fetched.endpoint_id
        )
        if fetched.claim is not None:
            query = query.filter(Q(claim_token=fetched.claim))
        endpoint = query.first()
        if endpoint is None:
            return False
        endpoint.record_failure(
            polled_at=fetched.now,
            message=fetched.message,
            keep_claim=fetched.transient and fetched.claim is not None,
        )
        ServingEndpoint.objects.filter(pk=endpoint.pk).update(
            **{name: getattr(endpoint, name) for name in ServingEndpoint.POLL_FIELDS}
        )
        log_poll(
            endpoint.pk,
            ok=False,
            message=fetched.message,
            duration_ms=fetched.duration_ms,
        )
        if endpoint.consecutive_failures == FAILING_AFTER:  # once per failing run
            emit(endpoint_failing_event(endpoint, since=fetched.now))
    return True


def endpoint_failing_event(endpoint: ServingEndpoint, *, since: datetime) -> Event:
    return Event(
        kind=EventKind.ENDPOINT_FAILING,
        key=f"endpoint_failing:{endpoint.pk}:{since.isoformat()}",
        title=f"Endpoint {endpoint.name} is failing",
        body=f"{endpoint.consecutive_failures} polls in a row failed; the last: "
        f"{endpoint.last_error}",
        url=endpoint.get_absolute_url(),
        roles=("platform",),
        context={"endpoint": endpoint.pk, "kind": endpoint.kind},
    )


def release_claim(*, endpoint_id: int, claim: str, message: str) -> None:
    """A poll that cannot finish (time limit, database gone): record it, free the claim."""
    record_failure(Fetched(endpoint_id, timezone.now(), message=message, claim=claim))


def log_poll(
    endpoint_id: int, *, ok: bool, message: str, readings: int = 0, duration_ms: int = 0
) -> None:
    event = PollEvent.objects.create(
        endpoint_id=endpoint_id,
        ok=ok,
        message=message,
        readings=readings,
        duration_ms=duration_ms,
    )
    if event.pk % 10 == 0:  # now and then: the page shows the latest few anyway
        trim_polls(endpoint_id)


def trim_polls(endpoint_id: int) -> None:
    old = PollEvent.objects.filter(endpoint_id=endpoint_id).values_list(
        "pk", flat=True
    )[PollEvent.KEEP :]
    stale = list(old)
    if stale:
        PollEvent.objects.filter(pk__in=stale).delete()


def _default_concurrency() -> int:
    return int(settings.ENDPOINT_COLLECT_CONCURRENCY)


def _window_start(
    endpoint: ServingEndpoint, lookback: timedelta, now: datetime
) -> datetime:
    if endpoint.collected_until is None:
        return now - FIRST_WINDOW
    return min(endpoint.collected_until, now) - lookback


def _elapsed_ms(started: float) -> int:
    return int((monotonic_time.monotonic() - started) * 1000)


__all__ = [
    "Fetched",
    "PollResult",
    "TransientCollectionError",
    "claim_due_endpoints",
    "collect_endpoint",
    "collect_endpoints_inline",
    "record_failure",
    "release_claim",
    "renew_claim",
    "take_over",
]
