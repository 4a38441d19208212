"""Registering endpoints, collecting and storing their usage, and flagging drift.

Collection rules (DESIGN §5):

- no database transaction is open during an HTTP call: the poll fetches first,
  then stores everything in one short transaction that locks the endpoint row;
- counter readings become deltas against the stored last value of each series
  (:func:`apps.endpoints.counters.counter_delta`), added to the sample of the
  current hour; bucket readings overwrite their sample. Either way a retried or
  repeated poll never counts twice;
- each day a poll touched is rolled up again from its samples.

Calls the portal sends itself are usage too, recorded by
:func:`record_portal_usage` for the kinds no collector counts.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time as monotonic_time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db import (
    connection,
    transaction,
)
from django.db.models import Case, F, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.core import crypto
from apps.core.http import UnsafeURL, check_url, make_client
from apps.endpoints.collectors import (
    CollectorError,
    ProbeReport,
    Reading,
    UnknownKind,
    get_collector,
)
from apps.endpoints.collectors.base import floor_time
from apps.endpoints.counters import counter_delta
from apps.endpoints.models import (
    FAILING_AFTER,
    CounterState,
    DailyUsage,
    DriftFlag,
    EndpointMapping,
    PollEvent,
    ServingEndpoint,
    UsageSample,
)
from apps.endpoints.pricing import PriceBook
from apps.framework.models import Assessment, Policy
from apps.usecases.models import AuditEvent, UseCase

if TYPE_CHECKING:
    from apps.accounts.models import User

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
#: How long a claimed endpoint stays claimed if its poll never reports back.
CLAIM_LEASE = timedelta(minutes=10)
#: Polls stored per transaction on the inline path.
WRITE_BATCH = 100
#: How far back a bucket collector reads on its first poll.
FIRST_WINDOW = timedelta(days=7)
CENT = Decimal("0.000001")


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


# Registration.


def base_url_problem(url: str) -> str | None:
    """Why ``url`` may not be registered (SSRF guard), or None when it may."""
    try:
        check_url(url, allowed_networks=settings.ENDPOINT_ALLOWED_NETWORKS)
    except UnsafeURL as exc:
        return exc.message
    return None


def save_endpoint(
    *,
    endpoint: ServingEndpoint | None,
    fields: dict[str, Any],
    by: User | None,
    api_key: str | None = None,
    clear_api_key: bool = False,
    check_base_url: bool = True,
) -> ServingEndpoint:
    """Create or change an endpoint; ``api_key`` None or blank keeps the current one.

    Raises :class:`UnsafeURL` when the base URL is refused. The audit record says
    whether the key changed, never what it is.
    """
    creating = endpoint is None
    if endpoint is None:
        endpoint = ServingEndpoint(created_by=by)
    before = {name: getattr(endpoint, name, None) for name in fields}
    if check_base_url and "base_url" in fields:
        check_url(
            fields["base_url"], allowed_networks=settings.ENDPOINT_ALLOWED_NETWORKS
        )
    for name, value in fields.items():
        setattr(endpoint, name, value)
    key_changed = False
    if api_key:
        endpoint.set_api_key(api_key)
        key_changed = True
    elif clear_api_key and endpoint.has_api_key:
        endpoint.set_api_key(None)
        key_changed = True
    changed = sorted(name for name in fields if before[name] != fields[name])
    if creating or {"base_url", "kind", "enabled"} & set(changed) or key_changed:
        endpoint.next_poll_at = timezone.now()  # poll soon with the new settings
    with transaction.atomic():
        endpoint.save()
        AuditEvent.record(
            kind="endpoint.registered" if creating else "endpoint.changed",
            summary=f"Serving endpoint {endpoint.name} "
            + ("registered." if creating else "changed."),
            actor=by,
            data={
                "endpoint": endpoint.pk,
                "fields": changed if not creating else sorted(fields),
                "api_key_changed": key_changed,
            },
        )
    return endpoint


def save_mapping(
    *, endpoint: ServingEndpoint, fields: dict[str, Any], by: User
) -> EndpointMapping:
    """Add a mapping and attribute the endpoint's past samples again."""
    with transaction.atomic():
        mapping = EndpointMapping.objects.create(endpoint=endpoint, **fields)
        remap_samples(endpoint=endpoint)
        AuditEvent.record(
            kind="endpoint.mapping_added",
            summary=f"{endpoint.name}: {mapping.describe_match()} mapped.",
            actor=by,
            use_case=mapping.use_case,
            data={"endpoint": endpoint.pk, "mapping": mapping.pk},
        )
    return mapping


def delete_mapping(*, mapping: EndpointMapping, by: User) -> None:
    endpoint = mapping.endpoint
    with transaction.atomic():
        AuditEvent.record(
            kind="endpoint.mapping_removed",
            summary=f"{endpoint.name}: {mapping.describe_match()} unmapped.",
            actor=by,
            use_case=mapping.use_case,
            data={"endpoint": endpoint.pk},
        )
        mapping.delete()
        remap_samples(endpoint=endpoint)


def remap_samples(*, endpoint: ServingEndpoint) -> None:
    """Re-attribute every sample of ``endpoint`` and rebuild its daily rollups.

    Portal-sent calls recorded with a use-case of their own keep it.
    """
    endpoint = ServingEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    mappings = list(endpoint.mappings.select_related("use_case"))
    samples = list(endpoint.samples.all())
    days: set[date] = set()
    for sample in samples:
        days.add(sample.bucket_start.astimezone(UTC).date())
        if sample.series.startswith(PORTAL_SERIES_PREFIX) and sample.use_case_id:
            continue  # the run's own use-case, not a mapping's
        use_case_id, team_id = resolve_mapping(
            mappings,
            model=sample.model,
            project_id=sample.project_id,
            api_key_id=sample.api_key_id,
        )
        sample.use_case_id, sample.team_id = use_case_id, team_id
    UsageSample.objects.bulk_update(samples, ["use_case", "team"], batch_size=500)
    for day in sorted(days):
        rollup_day(endpoint=endpoint, day=day)


def probe_endpoint(*, endpoint: ServingEndpoint) -> ProbeReport:
    """ "Test connection": what the endpoint answers, or exactly what went wrong."""
    try:
        collector = get_collector(endpoint.kind)
    except UnknownKind as exc:
        return ProbeReport(ok=False, detail=str(exc))
    try:
        api_key = endpoint.decrypt_api_key()
    except crypto.DecryptionError:
        return ProbeReport(
            ok=False, detail="The stored API key cannot be decrypted; enter it again."
        )
    with make_client(timeout=settings.ENDPOINT_TIMEOUT_SECONDS) as client:
        report = collector.probe(client, base_url=endpoint.base_url, api_key=api_key)
    if report.ok and report.models:
        models = sorted(set(endpoint.served_models or []) | set(report.models))
        if models != endpoint.served_models:
            ServingEndpoint.objects.filter(pk=endpoint.pk).update(served_models=models)
            endpoint.served_models = models
    return report


# Collection.


def claim_due_endpoints(
    *, now: datetime | None = None, limit: int | None = None
) -> list[int]:
    """Claim the endpoints due for a poll, with one conditional UPDATE.

    Two beat ticks (or a tick and a command) never claim the same endpoint: the
    UPDATE re-checks that each is still due and pushes its next poll a lease
    ahead; the poll sets the real next time when it ends.
    """
    now = now or timezone.now()
    token = uuid.uuid4().hex
    due = ServingEndpoint.objects.due(now).order_by("next_poll_at", "pk")
    ids = list(due.values_list("pk", flat=True)[:limit])
    if not ids:
        return []
    ServingEndpoint.objects.due(now).filter(pk__in=ids).update(
        claim_token=token, next_poll_at=now + CLAIM_LEASE
    )
    return list(
        ServingEndpoint.objects.filter(claim_token=token).values_list("pk", flat=True)
    )


@dataclass(frozen=True, slots=True)
class _Fetched:
    """What one poll's network phase brought back (no database involved)."""

    endpoint_id: int
    now: datetime
    readings: list[Reading] | None = None
    collected_until: datetime | None = None
    message: str = ""
    transient: bool = False
    retry_after: float | None = None
    duration_ms: int = 0


def collect_endpoint(
    *,
    endpoint_id: int,
    now: datetime | None = None,
    client: httpx.Client | None = None,
) -> PollResult:
    """Poll one endpoint and store what it reports; record the outcome.

    Raises :class:`TransientCollectionError` (after recording the failure) when a
    retry may help. The key is decrypted here and goes nowhere but the request.
    ``client`` (from :func:`apps.core.http.make_client`) may be shared by
    concurrent polls; by default each poll makes its own.
    """
    endpoint = ServingEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return PollResult(endpoint_id, ok=False, message="No such endpoint.")
    fetched = _fetch(endpoint, now=now or timezone.now(), client=client)
    result = _record(fetched)
    if result.transient:
        raise TransientCollectionError(fetched.message, retry_after=fetched.retry_after)
    return result


def _fetch(
    endpoint: ServingEndpoint, *, now: datetime, client: httpx.Client | None
) -> _Fetched:
    """Call the endpoint; touches no database, so it can run in any thread."""
    started = monotonic_time.monotonic()
    try:
        collector = get_collector(endpoint.kind)
        api_key = endpoint.decrypt_api_key()
    except UnknownKind as exc:
        return _Fetched(endpoint.pk, now, message=str(exc))
    except crypto.DecryptionError:
        return _Fetched(
            endpoint.pk,
            now,
            message="The stored API key cannot be decrypted; enter it again.",
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
        return _Fetched(
            endpoint.pk,
            now,
            message=exc.message,
            transient=exc.transient,
            retry_after=exc.retry_after,
            duration_ms=_elapsed_ms(started),
        )
    except Exception as exc:
        return _Fetched(
            endpoint.pk,
            now,
            message=f"Unexpected error while polling ({type(exc).__name__}).",
            duration_ms=_elapsed_ms(started),
        )
    finally:
        del api_key
    return _Fetched(
        endpoint.pk,
        now,
        readings=readings,
        collected_until=now if collector.mode == "bucket" else None,
        duration_ms=_elapsed_ms(started),
    )


def _record(fetched: _Fetched) -> PollResult:
    """Store a fetch's readings, or record its failure."""
    endpoint_id = fetched.endpoint_id
    if fetched.readings is None:
        record_failure(
            endpoint_id=endpoint_id,
            message=fetched.message,
            now=fetched.now,
            duration_ms=fetched.duration_ms,
        )
        logger.warning("Polling endpoint %s failed: %s", endpoint_id, fetched.message)
        return PollResult(
            endpoint_id, ok=False, message=fetched.message, transient=fetched.transient
        )
    count = store_readings(
        endpoint_id=endpoint_id,
        readings=fetched.readings,
        observed_at=fetched.now,
        collected_until=fetched.collected_until,
        duration_ms=fetched.duration_ms,
    )
    logger.info("Polled endpoint %s: %d readings", endpoint_id, count)
    return PollResult(endpoint_id, ok=True, readings=count)


def collect_endpoints_inline(
    *,
    endpoint_ids: Sequence[int] | None = None,
    now: datetime | None = None,
    concurrency: int | None = None,
) -> list[PollResult]:
    """Poll endpoints in this process, concurrently: the due ones, or those given.

    The command and the benchmark use this; the beat tick fans out Celery tasks
    instead. Threads only make the HTTP calls (one shared, guarded client); this
    thread stores the results in batches as they arrive, so the database sees one
    connection whatever the concurrency. No retries here: the next cycle polls a
    failed endpoint again.
    """
    now = now or timezone.now()
    ids = list(endpoint_ids) if endpoint_ids is not None else None
    if ids is None:
        ids = claim_due_endpoints(now=now)
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
            pool.submit(_fetch, endpoints[pk], now=now, client=client)
            for pk in ids
            if pk in endpoints
        ]
        batch: list[_Fetched] = []
        for future in as_completed(futures):
            batch.append(future.result())
            if len(batch) >= WRITE_BATCH:
                _store_fetched(batch, results)
                batch = []
        _store_fetched(batch, results)
    order = {pk: index for index, pk in enumerate(ids)}
    return sorted(results, key=lambda result: order[result.endpoint_id])


def _store_fetched(batch: list[_Fetched], results: list[PollResult]) -> None:
    successes = [item for item in batch if item.readings is not None]
    for item in batch:
        if item.readings is None:
            results.append(_record(item))
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
        PollResult(item.endpoint_id, ok=True, readings=counts.get(item.endpoint_id, 0))
        for item in successes
    )


def _default_concurrency() -> int:
    return int(getattr(settings, "ENDPOINT_COLLECT_CONCURRENCY", 32))


def _window_start(
    endpoint: ServingEndpoint, lookback: timedelta, now: datetime
) -> datetime:
    if endpoint.collected_until is None:
        return now - FIRST_WINDOW
    return min(endpoint.collected_until, now) - lookback


def _elapsed_ms(started: float) -> int:
    return int((monotonic_time.monotonic() - started) * 1000)


_SQLITE_WRITES = threading.Lock()


@contextlib.contextmanager
def _writing() -> Iterator[None]:
    """A write transaction; on SQLite, threads of this process take turns first.

    SQLite has one writer at a time and its busy handler sleeps in long steps, so
    many polling threads queueing on it lose most of their time sleeping.
    """
    if connection.vendor != "sqlite":
        with transaction.atomic():
            yield
        return
    with _SQLITE_WRITES, transaction.atomic():
        yield


def record_failure(
    *, endpoint_id: int, message: str, now: datetime, duration_ms: int = 0
) -> None:
    """Mark a failed poll: stale at first, failing after repeated failures."""
    interval = ServingEndpoint.objects.filter(pk=endpoint_id).values_list(
        "poll_interval_seconds", flat=True
    )
    seconds = next(iter(interval), 60)
    with _writing():
        ServingEndpoint.objects.filter(pk=endpoint_id).update(
            consecutive_failures=F("consecutive_failures") + 1,
            health=Case(
                When(
                    consecutive_failures__gte=FAILING_AFTER - 1,
                    then=Value(ServingEndpoint.Health.FAILING),
                ),
                default=Value(ServingEndpoint.Health.STALE),
            ),
            last_error=message,
            last_error_at=now,
            last_polled_at=now,
            next_poll_at=timezone.now() + timedelta(seconds=seconds),
            claim_token="",
        )
        _log_poll(endpoint_id, ok=False, message=message, duration_ms=duration_ms)


def _log_poll(
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
        _trim_polls(endpoint_id)


def _trim_polls(endpoint_id: int) -> None:
    old = PollEvent.objects.filter(endpoint_id=endpoint_id).values_list(
        "pk", flat=True
    )[PollEvent.KEEP :]
    stale = list(old)
    if stale:
        PollEvent.objects.filter(pk__in=stale).delete()


def store_readings(
    *,
    endpoint_id: int,
    readings: Iterable[Reading],
    observed_at: datetime,
    collected_until: datetime | None = None,
    duration_ms: int = 0,
) -> int:
    """Store one poll's readings in one transaction, and mark the poll a success.

    The endpoint row is locked first, so two polls of one endpoint store one after
    the other; a counter observation older than the stored one is ignored, so a
    late poll cannot turn a newer value into a false reset.
    """
    fetched = _Fetched(
        endpoint_id,
        observed_at,
        readings=list(readings),
        collected_until=collected_until,
        duration_ms=duration_ms,
    )
    return store_batch([fetched]).get(endpoint_id, 0)


def store_batch(fetches: Sequence[_Fetched]) -> dict[int, int]:
    """Store several successful polls in one transaction (see :func:`store_readings`).

    Bookkeeping (endpoints, counter states, poll events) is read and written in
    bulk, so storing a cycle of many endpoints costs a few queries, not a few
    per endpoint. Returns the number of readings stored per endpoint id.
    """
    ids = sorted({f.endpoint_id for f in fetches})
    counts: dict[int, int] = {}
    with _writing():
        endpoints = ServingEndpoint.objects.select_for_update().in_bulk(ids)
        mappings: dict[int, list[EndpointMapping]] = defaultdict(list)
        for mapping in EndpointMapping.objects.filter(
            endpoint_id__in=ids
        ).select_related("use_case"):
            mappings[mapping.endpoint_id].append(mapping)
        states = _StateBook(
            {
                f.endpoint_id
                for f in fetches
                if any(r.mode == "counter" for r in f.readings or [])
            }
        )
        events: list[PollEvent] = []
        touched: dict[int, ServingEndpoint] = {}
        to_roll_up: dict[date, list[ServingEndpoint]] = defaultdict(list)
        catalogue: dict[str, Any] = {}  # catalogue prices, shared by the batch
        now = timezone.now()
        for fetched in fetches:
            endpoint = endpoints.get(fetched.endpoint_id)
            if endpoint is None or fetched.readings is None:
                continue
            readings = fetched.readings
            prices = PriceBook(endpoint, catalogue)
            days: set[date] = set()
            counters = [r for r in readings if r.mode == "counter"]
            days |= _store_counters(
                endpoint, counters, mappings[endpoint.pk], prices, fetched.now, states
            )
            for reading in readings:
                if reading.mode == "bucket":
                    days |= _store_bucket(
                        endpoint, reading, mappings[endpoint.pk], prices
                    )
            if endpoint.is_self_hosted:
                # The hardware costs money whether or not anything was served.
                days.add(fetched.now.astimezone(UTC).date())
            for day in days:
                to_roll_up[day].append(endpoint)
            endpoint.health = ServingEndpoint.Health.OK
            endpoint.last_success_at = fetched.now
            endpoint.last_polled_at = fetched.now
            endpoint.last_error = ""
            endpoint.consecutive_failures = 0
            endpoint.next_poll_at = now + timedelta(
                seconds=endpoint.poll_interval_seconds
            )
            endpoint.claim_token = ""
            endpoint.served_models = sorted(
                set(endpoint.served_models or [])
                | {r.model for r in readings if r.model}
            )
            if fetched.collected_until is not None:
                endpoint.collected_until = fetched.collected_until
            touched[endpoint.pk] = endpoint
            events.append(
                PollEvent(
                    endpoint_id=endpoint.pk,
                    ok=True,
                    message=f"{len(readings)} readings.",
                    readings=len(readings),
                    duration_ms=fetched.duration_ms,
                )
            )
            counts[endpoint.pk] = len(readings)
        states.save()
        for day, day_endpoints in sorted(to_roll_up.items()):
            rollup_endpoints_day(endpoints=day_endpoints, day=day)
        for endpoint in touched.values():
            # One small UPDATE each: cheaper than bulk_update's CASE per field.
            ServingEndpoint.objects.filter(pk=endpoint.pk).update(
                **{name: getattr(endpoint, name) for name in _POLL_FIELDS}
            )
        for event in PollEvent.objects.bulk_create(events, batch_size=500):
            if event.pk is None or event.pk % 10 == 0:
                _trim_polls(event.endpoint_id)
    return counts


_POLL_FIELDS = (
    "health",
    "last_success_at",
    "last_polled_at",
    "last_error",
    "consecutive_failures",
    "next_poll_at",
    "claim_token",
    "served_models",
    "collected_until",
)


class _StateBook:
    """Counter states of some endpoints, locked, read at once and written at once."""

    def __init__(self, endpoint_ids: set[int]) -> None:
        self._states: dict[tuple[int, str], CounterState] = {}
        self._new: dict[tuple[int, str], CounterState] = {}
        self._changed: dict[int, CounterState] = {}
        if endpoint_ids:
            for state in CounterState.objects.select_for_update().filter(
                endpoint_id__in=endpoint_ids
            ):
                self._states[(state.endpoint_id, state.series)] = state

    def get(self, endpoint_id: int, series: str) -> CounterState | None:
        return self._states.get((endpoint_id, series))

    def observe(
        self, endpoint_id: int, reading: Reading, observed_at: datetime
    ) -> None:
        key = (endpoint_id, reading.series)
        state = self._states.get(key)
        if state is None:
            state = CounterState(
                endpoint_id=endpoint_id, series=reading.series, observed_at=observed_at
            )
            self._states[key] = self._new[key] = state
        elif state.pk is not None:
            self._changed[state.pk] = state
        state.requests = reading.requests
        state.input_tokens = reading.input_tokens
        state.output_tokens = reading.output_tokens
        state.started_at = reading.started_at or state.started_at
        state.observed_at = observed_at

    def save(self) -> None:
        """One upsert for every new or changed state."""
        rows = [*self._new.values(), *self._changed.values()]
        CounterState.objects.bulk_create(
            rows,
            batch_size=500,
            update_conflicts=True,
            unique_fields=["endpoint", "series"],
            update_fields=[
                "requests",
                "input_tokens",
                "output_tokens",
                "started_at",
                "observed_at",
            ],
        )


def _store_counters(
    endpoint: ServingEndpoint,
    readings: list[Reading],
    mappings: list[EndpointMapping],
    prices: PriceBook,
    observed_at: datetime,
    states: _StateBook,
) -> set[date]:
    bucket_start = floor_time(observed_at, HOUR)
    days: set[date] = set()
    for reading in readings:
        state = states.get(endpoint.pk, reading.series)
        if state is not None and state.observed_at >= observed_at:
            continue  # an older observation arriving after a newer one
        deltas = _counter_deltas(state, reading)
        states.observe(endpoint.pk, reading, observed_at)
        if not any(deltas):
            continue
        requests, input_tokens, output_tokens = (round(d) for d in deltas)
        use_case_id, team_id = resolve_mapping(
            mappings, model=reading.model, project_id=None, api_key_id=None
        )
        cost_delta = _priced_cost(endpoint, prices, reading.model, deltas)
        increments: dict[str, Any] = {
            "requests": F("requests") + requests,
            "input_tokens": F("input_tokens") + input_tokens,
            "output_tokens": F("output_tokens") + output_tokens,
        }
        if cost_delta is not None:
            increments["cost"] = Coalesce(F("cost"), Decimal(0)) + cost_delta
        # Add to this hour's sample, or start it: the endpoint row lock makes
        # the update-then-insert safe.
        updated = UsageSample.objects.filter(
            endpoint=endpoint, series=reading.series, bucket_start=bucket_start
        ).update(**increments)
        if not updated:
            UsageSample.objects.create(
                endpoint=endpoint,
                series=reading.series,
                bucket_start=bucket_start,
                bucket_end=bucket_start + HOUR,
                model=reading.model,
                use_case_id=use_case_id,
                team_id=team_id,
                requests=requests,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                cost=cost_delta,
            )
        days.add(bucket_start.date())
    return days


def _counter_deltas(
    state: CounterState | None, reading: Reading
) -> tuple[float, float, float]:
    current = (reading.requests, reading.input_tokens, reading.output_tokens)
    if state is None:
        return (0.0, 0.0, 0.0)  # the first observation is the baseline
    previous = (state.requests, state.input_tokens, state.output_tokens)
    # One counter going down, or a new start time, means the process restarted:
    # then every counter of the series counts in full.
    restarted = any(c < p for c, p in zip(current, previous, strict=True)) or bool(
        reading.started_at
        and state.started_at
        and reading.started_at > state.started_at + timedelta(seconds=1)
    )
    return tuple(  # type: ignore[return-value]
        counter_delta(p, c, restarted=restarted)
        for p, c in zip(previous, current, strict=True)
    )


def _priced_cost(
    endpoint: ServingEndpoint,
    prices: PriceBook,
    model: str,
    deltas: tuple[float, float, float],
) -> Decimal | None:
    if endpoint.is_self_hosted:
        return None  # spread from the hourly cost in the daily rollup
    price = prices.price(model)
    if price is None:
        return None
    return price.cost(input_tokens=deltas[1], output_tokens=deltas[2]).quantize(CENT)


def _store_bucket(
    endpoint: ServingEndpoint,
    reading: Reading,
    mappings: list[EndpointMapping],
    prices: PriceBook,
) -> set[date]:
    assert reading.bucket_start is not None
    use_case_id, team_id = resolve_mapping(
        mappings,
        model=reading.model,
        project_id=reading.project_id,
        api_key_id=reading.api_key_id,
    )
    cost = reading.cost
    reported = cost is not None
    if cost is None and reading.measure == "usage" and not endpoint.is_self_hosted:
        price = prices.price(reading.model)
        if price is not None:
            cost = price.cost(
                input_tokens=reading.input_tokens, output_tokens=reading.output_tokens
            ).quantize(CENT)
    UsageSample.objects.update_or_create(
        endpoint=endpoint,
        series=reading.series,
        bucket_start=reading.bucket_start,
        defaults={
            "bucket_end": reading.bucket_end or reading.bucket_start + HOUR,
            "measure": reading.measure,
            "model": reading.model,
            "project_id": reading.project_id or "",
            "api_key_id": reading.api_key_id or "",
            "use_case_id": use_case_id,
            "team_id": team_id,
            "requests": reading.requests,
            "input_tokens": reading.input_tokens,
            "output_tokens": reading.output_tokens,
            "cached_input_tokens": reading.cached_input_tokens,
            "cost": cost,
            "cost_reported": reported,
        },
    )
    return {reading.bucket_start.astimezone(UTC).date()}


def resolve_mapping(
    mappings: Sequence[EndpointMapping],
    *,
    model: str,
    project_id: str | None,
    api_key_id: str | None,
) -> tuple[int | None, int | None]:
    """(use_case_id, team_id) of the most specific matching mapping, or Nones."""
    best: EndpointMapping | None = None
    for mapping in mappings:
        if not mapping.matches(
            model=model, project_id=project_id, api_key_id=api_key_id
        ):
            continue
        if best is None or mapping.specificity > best.specificity:
            best = mapping
    if best is None:
        return (None, None)
    return (best.use_case_id, best.target_team_id)


# Usage the portal sent itself (playground runs, test sets).

#: Series of portal-sent calls start with this; ``remap_samples`` keeps their use-case.
PORTAL_SERIES_PREFIX = "portal|"


def counts_portal_usage(endpoint: ServingEndpoint) -> bool:
    """Whether the portal records its own calls to ``endpoint`` as usage.

    Only for kinds without a usage source of their own (``openai_compatible``,
    whose collector reads nothing). vLLM and TGI counters, the LiteLLM spend API
    and the OpenAI and Anthropic usage reports already include every call the
    portal sends, so for those the collector counts it and the portal does not:
    recording it here as well would count it twice.
    """
    try:
        return get_collector(endpoint.kind).mode == "none"
    except UnknownKind:
        return False


def record_portal_usage(
    *,
    endpoint: ServingEndpoint,
    key: str,
    model: str,
    use_case: UseCase | None,
    at: datetime,
    input_tokens: int | None,
    output_tokens: int | None,
) -> UsageSample | None:
    """Record one completed call the portal itself sent to ``endpoint``.

    One usage sample per call, in series ``"portal|<key>"`` (``key`` names the
    call, e.g. ``"run-output=12"``) and the bucket of the hour of ``at``: an
    upsert, so saving the same call again (a retry, a re-attribution) never
    counts it twice, and a call saved again with another time moves rather than
    doubles. ``requests`` is 1; the cost is the catalogue's (or the endpoint's)
    price of the tokens, or spread from the hourly cost by the daily rollup on
    self-hosted endpoints. The use-case is ``use_case``, else that of the
    endpoint's mapping for ``model`` (as the collector attributes). The days
    touched are rolled up again.

    Returns ``None`` and records nothing for endpoints whose collector already
    counts this traffic (every kind but ``openai_compatible``, see
    :func:`counts_portal_usage`).
    """
    if not counts_portal_usage(endpoint):
        return None
    series = f"{PORTAL_SERIES_PREFIX}{key}"
    bucket_start = floor_time(at.astimezone(UTC), HOUR)
    tokens_in, tokens_out = input_tokens or 0, output_tokens or 0
    with _writing():
        # The collector's lock: a poll's rollup and this one never interleave.
        endpoint = ServingEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if use_case is not None:
            use_case_id, team_id = use_case.pk, use_case.team_id
        else:
            use_case_id, team_id = resolve_mapping(
                list(endpoint.mappings.select_related("use_case")),
                model=model,
                project_id=None,
                api_key_id=None,
            )
        cost = None
        if not endpoint.is_self_hosted:
            price = PriceBook(endpoint).price(model)
            if price is not None:
                cost = price.cost(
                    input_tokens=tokens_in, output_tokens=tokens_out
                ).quantize(CENT)
        days = {bucket_start.date()}
        moved = UsageSample.objects.filter(endpoint=endpoint, series=series).exclude(
            bucket_start=bucket_start
        )
        days |= {
            moment.astimezone(UTC).date()
            for moment in moved.values_list("bucket_start", flat=True)
        }
        moved.delete()
        sample, _ = UsageSample.objects.update_or_create(
            endpoint=endpoint,
            series=series,
            bucket_start=bucket_start,
            defaults={
                "bucket_end": bucket_start + HOUR,
                "measure": UsageSample.Measure.USAGE,
                "model": model,
                "project_id": "",
                "api_key_id": "",
                "use_case_id": use_case_id,
                "team_id": team_id,
                "requests": 1,
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
                "cached_input_tokens": 0,
                "cost": cost,
                "cost_reported": False,
            },
        )
        for day in sorted(days):
            rollup_day(endpoint=endpoint, day=day)
    if endpoint.is_self_hosted:
        sample.refresh_from_db(fields=["cost"])  # allocated by the rollup
    return sample


# Rollups.


def rollup_day(*, endpoint: ServingEndpoint, day: date) -> list[DailyUsage]:
    """Rebuild ``endpoint``'s daily rows for ``day`` from its samples.

    Self-hosted endpoints: the day's hardware cost (hourly cost times the hours
    of the day so far) is spread over the samples by share of tokens and written
    back to them, so the usage API and the rollup agree.
    """
    return rollup_endpoints_day(endpoints=[endpoint], day=day)


def rollup_endpoints_day(
    *, endpoints: Sequence[ServingEndpoint], day: date
) -> list[DailyUsage]:
    """:func:`rollup_day` for several endpoints at once, in three queries."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    end = start + DAY
    by_endpoint: dict[int, list[UsageSample]] = {e.pk: [] for e in endpoints}
    for sample in UsageSample.objects.filter(
        endpoint_id__in=list(by_endpoint),
        measure=UsageSample.Measure.USAGE,
        bucket_start__gte=start,
        bucket_start__lt=end,
    ).order_by("pk"):
        by_endpoint[sample.endpoint_id].append(sample)
    rows: list[DailyUsage] = []
    for endpoint in endpoints:
        samples = by_endpoint[endpoint.pk]
        idle_cost = Decimal(0)
        if endpoint.is_self_hosted:
            idle_cost = _allocate_hourly_cost(endpoint, samples, start, end)
        groups: dict[tuple[int | None, int | None, str], dict[str, Any]] = defaultdict(
            lambda: {
                "requests": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cost": Decimal(0),
            }
        )
        for sample in samples:
            sums = groups[(sample.use_case_id, sample.team_id, sample.model)]
            sums["requests"] += sample.requests
            sums["input_tokens"] += sample.input_tokens
            sums["output_tokens"] += sample.output_tokens
            sums["cost"] += sample.cost or Decimal(0)
        if idle_cost:
            groups[(None, None, "")]["cost"] += idle_cost
        rows.extend(
            DailyUsage(
                date=day,
                endpoint=endpoint,
                use_case_id=use_case_id,
                team_id=team_id,
                model=model,
                vendor=endpoint.vendor_name,
                location=endpoint.location,
                **sums,
            )
            for (use_case_id, team_id, model), sums in groups.items()
        )
    DailyUsage.objects.filter(endpoint_id__in=list(by_endpoint), date=day).delete()
    return DailyUsage.objects.bulk_create(rows, batch_size=500)


def _allocate_hourly_cost(
    endpoint: ServingEndpoint,
    samples: list[UsageSample],
    start: datetime,
    end: datetime,
) -> Decimal:
    """Spread the day's cost over ``samples`` by tokens; return what is left idle."""
    assert endpoint.hourly_cost is not None
    now = timezone.now()
    seconds = (min(end, now) - start).total_seconds()
    hours = Decimal(max(seconds, 0) / 3600).quantize(Decimal("0.0001"))
    day_cost = (endpoint.hourly_cost * hours).quantize(CENT, rounding=ROUND_HALF_UP)
    tokens = sum(s.input_tokens + s.output_tokens for s in samples)
    if not tokens:
        for sample in samples:
            sample.cost = Decimal(0)
        UsageSample.objects.bulk_update(samples, ["cost"], batch_size=500)
        return day_cost
    allocated = Decimal(0)
    for sample in samples:
        share = Decimal(sample.input_tokens + sample.output_tokens) / Decimal(tokens)
        sample.cost = (day_cost * share).quantize(CENT, rounding=ROUND_HALF_UP)
        allocated += sample.cost
    # Rounding leftovers go to the largest sample, so the parts add up exactly.
    largest = max(samples, key=lambda s: s.input_tokens + s.output_tokens)
    largest.cost = (largest.cost or Decimal(0)) + (day_cost - allocated)
    UsageSample.objects.bulk_update(samples, ["cost"], batch_size=500)
    return Decimal(0)


# Drift: live volume against the assessment.


@dataclass(frozen=True, slots=True)
class Threshold:
    """What a use-case's live volume is compared with."""

    basis: str  # "break_even" or "policy"
    values: tuple[float, ...]

    def band(self, volume: float) -> int:
        return sum(volume >= value for value in self.values)

    def describe(self, crossed: float) -> str:
        if self.basis == "break_even":
            return f"the assessment's break-even of {crossed:,.0f} requests a day"
        which = "lower" if crossed == self.values[0] else "upper"
        return f"the policy's {which} volume threshold of {crossed:,.0f} requests a day"


def threshold_for(use_case: UseCase) -> Threshold:
    """The latest assessment's break-even, else the policy's volume thresholds."""
    break_even = _latest_break_even(use_case)
    if break_even:
        return Threshold("break_even", (float(break_even),))
    low, high = _policy_volume_thresholds()
    return Threshold("policy", (low, high))


def _policy_volume_thresholds() -> tuple[float, float]:
    policy = Policy.objects.current().engine_policy()
    return float(policy.volume_low), float(policy.volume_high)


def _latest_break_even(use_case: UseCase) -> float | None:
    value = (
        Assessment.objects.filter(use_case=use_case)
        .order_by("-created_at", "-pk")
        .values_list("break_even_requests_per_day", flat=True)
        .first()
    )
    return float(value) if value is not None else None


def actual_requests_per_day(
    *, use_case_ids: Iterable[int], today: date
) -> dict[int, float]:
    """7-day average of live requests a day, over the seven full days before today."""
    start = today - timedelta(days=7)
    rows = (
        DailyUsage.objects.filter(
            use_case_id__in=list(use_case_ids), date__gte=start, date__lt=today
        )
        .values("use_case_id")
        .annotate(total=Sum("requests"))
        .order_by()
    )
    return {row["use_case_id"]: row["total"] / 7 for row in rows}


def flag_drifted_use_cases(*, now: datetime | None = None) -> list[DriftFlag]:
    """Flag use-cases whose live volume sits across a threshold from their estimate.

    A crossing is flagged once (a :class:`DriftFlag` per crossing): the hourly run
    does not flag, audit and email the same crossing again.
    """
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    use_case_ids = (
        DailyUsage.objects.filter(
            use_case__isnull=False, date__gte=today - timedelta(days=7), date__lt=today
        )
        .values_list("use_case_id", flat=True)
        .distinct()
    )
    actuals = actual_requests_per_day(use_case_ids=set(use_case_ids), today=today)
    flags = []
    for use_case in UseCase.objects.filter(pk__in=actuals).select_related("owner"):
        flag = _flag_if_crossed(use_case, actuals[use_case.pk], now)
        if flag is not None:
            flags.append(flag)
    return flags


def _flag_if_crossed(
    use_case: UseCase, actual: float, now: datetime
) -> DriftFlag | None:
    threshold = threshold_for(use_case)
    estimate = float(use_case.requests_per_day)
    actual_band, estimate_band = threshold.band(actual), threshold.band(estimate)
    if actual_band == estimate_band:
        return None
    key = f"{threshold.basis}:{':'.join(f'{v:.0f}' for v in threshold.values)}:{estimate_band}->{actual_band}"
    # The farthest threshold crossed, in the direction of the crossing.
    up = actual_band > estimate_band
    crossed = threshold.values[actual_band - 1 if up else actual_band]
    direction = "above" if up else "below"
    reason = (
        f"Live volume averages {actual:,.0f} requests a day over the last 7 days, "
        f"{direction} {threshold.describe(crossed)}; the estimate was "
        f"{estimate:,.0f} a day."
    )
    with transaction.atomic():
        flag, created = DriftFlag.objects.get_or_create(
            use_case=use_case,
            key=key,
            defaults={
                "actual_requests_per_day": actual,
                "threshold": crossed,
                "basis": threshold.basis,
            },
        )
        if not created:
            return None
        use_case.reassessment_flagged_at = now
        use_case.reassessment_reason = reason
        use_case.save(update_fields=["reassessment_flagged_at", "reassessment_reason"])
        AuditEvent.record(
            kind="usage.reassessment_flagged",
            summary=reason,
            use_case=use_case,
            data={
                "actual_requests_per_day": round(actual, 1),
                "threshold": crossed,
                "basis": threshold.basis,
                "estimated_requests_per_day": estimate,
            },
        )
        transaction.on_commit(lambda: _notify_drift(use_case, reason))
    return flag


def _notify_drift(use_case: UseCase, reason: str) -> None:
    from apps.accounts.models import User

    board = list(
        User.objects.filter(groups__name="board", is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    recipients = sorted(
        {*board, *([use_case.owner.email] if use_case.owner.email else [])}
    )
    if not recipients:
        return
    url = settings.PORTAL_BASE_URL.rstrip("/") + use_case.get_absolute_url()
    send_mail(
        subject=f"Re-assess {use_case.title}: live volume crossed a threshold",
        message=f"{reason}\n\nThe use-case is flagged for re-assessment: {url}\n",
        from_email=None,
        recipient_list=recipients,
        fail_silently=True,
    )
