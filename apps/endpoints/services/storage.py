"""Storing a poll's readings: counters become increases, buckets overwrite.

- A counter reading is compared with the stored last value of its series
  (:class:`CounterState`) and the increase is spread over the hour buckets
  between the two observations (docs/usage-collection.md, "Gaps"), so a
  three-hour outage across midnight books each hour's share to its own day.
- The process start time (Prometheus ``_created``) decides what a lower value
  means: the same start time means an older reading that arrived late (ignored),
  a later one a restart (the new value counts in full, from the start), and with
  no start time a lower value is a reset, as in Prometheus.
- A series that appears after the endpoint's first poll counts from its start
  time when that is after the previous poll (it started from zero then).
- A bucket reading overwrites its sample (providers revise buckets in place).
- Samples are written with one upsert per batch; a series with a bad value is
  refused on its own, recorded, and the rest is stored.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from apps.endpoints.collectors import Reading
from apps.endpoints.collectors.base import floor_time
from apps.endpoints.models import (
    CounterState,
    EndpointMapping,
    PollEvent,
    ServingEndpoint,
    UsageSample,
    resolve_mapping,
)
from apps.endpoints.pricing import Price, PriceBook
from apps.endpoints.services.rollups import (
    CENT,
    rollup_endpoints_day,
    update_rows,
)

if TYPE_CHECKING:
    from apps.endpoints.services.collection import Fetched

HOUR = timedelta(hours=1)
#: Start times closer than this are the same process (exporters round them).
SAME_START = timedelta(seconds=1)
#: The counted fields of a counter series, in CounterState and UsageSample.
COUNTED = ("requests", "input_tokens", "output_tokens", "cached_input_tokens")
#: The value fields of a sample an upsert writes.
SAMPLE_VALUES = (
    "bucket_end",
    "measure",
    "model",
    "project_id",
    "api_key_id",
    "use_case",
    "team",
    "requests",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "service_tier",
    "cost",
    "cost_reported",
)

_SQLITE_WRITES = threading.Lock()


@contextlib.contextmanager
def writing() -> Iterator[None]:
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


def store_readings(
    *,
    endpoint_id: int,
    readings: Iterable[Reading],
    observed_at: datetime,
    collected_until: datetime | None = None,
    duration_ms: int = 0,
    claim: str | None = None,
) -> int:
    """Store one poll's readings in one transaction, and mark the poll a success.

    ``claim`` None stores whatever the endpoint's claim (callers that serialise
    their polls themselves); otherwise nothing is stored once another poll took
    the endpoint over. Returns the number of readings stored.
    """
    from apps.endpoints.services.collection import Fetched

    fetched = Fetched(
        endpoint_id,
        observed_at,
        readings=list(readings),
        collected_until=collected_until,
        duration_ms=duration_ms,
        claim=claim,
    )
    return store_batch([fetched]).get(endpoint_id, 0)


def store_batch(fetches: Sequence[Fetched]) -> dict[int, int]:
    """Store several successful polls in one transaction (see :func:`store_readings`).

    Bookkeeping (endpoints, counter states, samples, poll events) is read and
    written in bulk, so storing a cycle of many endpoints costs a few queries,
    not a few per endpoint. Returns the readings stored per endpoint id, for the
    polls that still held their endpoint's claim.
    """
    ids = sorted({f.endpoint_id for f in fetches})
    counts: dict[int, int] = {}
    with writing():
        endpoints = ServingEndpoint.objects.select_for_update().in_bulk(ids)
        accepted = [
            f
            for f in fetches
            if f.readings is not None
            and f.endpoint_id in endpoints
            and (f.claim is None or endpoints[f.endpoint_id].claim_token == f.claim)
        ]
        if not accepted:
            return counts
        accepted_ids = {f.endpoint_id for f in accepted}
        mappings: dict[int, list[EndpointMapping]] = defaultdict(list)
        for mapping in EndpointMapping.objects.filter(
            endpoint_id__in=accepted_ids
        ).select_related("use_case"):
            mappings[mapping.endpoint_id].append(mapping)
        states = _StateBook(
            {
                f.endpoint_id
                for f in accepted
                if any(r.mode == "counter" for r in f.readings or [])
            }
        )
        book = _SampleBook()
        catalogue: dict[str, Any] = {}  # catalogue prices, shared by the batch
        events: list[PollEvent] = []
        to_roll_up: dict[date, dict[int, ServingEndpoint]] = defaultdict(dict)
        for fetched in accepted:
            endpoint = endpoints[fetched.endpoint_id]
            readings = fetched.readings or []
            poll = _Poll(
                endpoint=endpoint,
                mappings=mappings[endpoint.pk],
                prices=PriceBook(endpoint, catalogue),
                observed_at=fetched.now,
                states=states,
                book=book,
            )
            for reading in readings:
                poll.add(reading)
            days = poll.days
            if endpoint.is_self_hosted:
                # The hardware costs money whether or not anything was served.
                days.add(fetched.now.astimezone(UTC).date())
            for day in days:
                to_roll_up[day][endpoint.pk] = endpoint
            endpoint.record_success(
                polled_at=fetched.now,
                models={r.model for r in readings if r.model and not r.error},
            )
            if fetched.collected_until is not None:
                endpoint.collected_until = fetched.collected_until
            message = f"{len(readings) - len(poll.refused)} readings."
            if poll.refused:
                message += f" Refused {len(poll.refused)}: " + "; ".join(poll.refused)
                endpoint.last_error = message
                endpoint.last_error_at = fetched.now
            events.append(
                PollEvent(
                    endpoint_id=endpoint.pk,
                    ok=True,
                    message=message,
                    readings=len(readings) - len(poll.refused),
                    duration_ms=fetched.duration_ms,
                )
            )
            counts[endpoint.pk] = len(readings) - len(poll.refused)
        book.save()
        states.save()
        for day, day_endpoints in sorted(to_roll_up.items()):
            rollup_endpoints_day(endpoints=list(day_endpoints.values()), day=day)
        update_rows(
            ServingEndpoint,
            [endpoints[pk] for pk in sorted(accepted_ids)],
            ServingEndpoint.POLL_FIELDS,
        )
        from apps.endpoints.services.collection import trim_polls

        for event in PollEvent.objects.bulk_create(events, batch_size=500):
            if event.pk is None or event.pk % 10 == 0:
                trim_polls(event.endpoint_id)
    return counts


@dataclass
class _Poll:
    """One poll of one endpoint being stored: turns readings into sample amounts."""

    endpoint: ServingEndpoint
    mappings: list[EndpointMapping]
    prices: PriceBook
    observed_at: datetime
    states: _StateBook
    book: _SampleBook
    days: set[date] = field(default_factory=set)
    refused: list[str] = field(default_factory=list)

    def add(self, reading: Reading) -> None:
        if reading.error:
            self.refused.append(f"{reading.series}: {reading.error}")
            return
        try:
            if reading.mode == "counter":
                self._add_counter(reading)
            else:
                self._add_bucket(reading)
        except ValueError as exc:
            self.refused.append(f"{reading.series}: {exc}")

    # Counters.

    def _add_counter(self, reading: Reading) -> None:
        current = tuple(float(getattr(reading, name)) for name in COUNTED)
        for value in current:
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"a counter cannot read {value!r}")
        endpoint, observed_at = self.endpoint, self.observed_at
        state = self.states.get(endpoint.pk, reading.series)
        if state is None:
            self.states.observe(endpoint.pk, reading, observed_at)
            since = _previous_look(endpoint)
            if (
                since is not None
                and reading.started_at is not None
                and reading.started_at >= since
            ):
                # Appeared after our last look: it started from zero then.
                self._count(reading, current, reading.started_at)
            return
        if state.observed_at >= observed_at:
            return  # an older observation arriving after a newer one
        previous = tuple(float(getattr(state, name)) for name in COUNTED)
        started, known = reading.started_at, state.started_at
        both_known = started is not None and known is not None
        if both_known and started < known - SAME_START:  # type: ignore[operator]
            return  # a reading of the process before the last restart
        restarted = both_known and started > known + SAME_START  # type: ignore[operator]
        lower = any(c < p for c, p in zip(current, previous, strict=True))
        if restarted:
            increase = current
            since = max(started, state.observed_at)  # type: ignore[type-var]
        elif lower and both_known:
            return  # same process, lower value: a stale reading, not a reset
        elif lower:
            increase, since = current, state.observed_at  # a reset, as Prometheus
        else:
            increase = tuple(c - p for c, p in zip(current, previous, strict=True))
            since = state.observed_at
        self.states.observe(endpoint.pk, reading, observed_at)
        self._count(reading, increase, since)

    def _count(
        self, reading: Reading, increase: tuple[float, ...], since: datetime
    ) -> None:
        amounts = tuple(round(value) for value in increase)
        if not any(amounts):
            return
        target = resolve_mapping(
            self.mappings, model=reading.model, project_id=None, api_key_id=None
        )
        price = (
            None if self.endpoint.is_self_hosted else self.prices.price(reading.model)
        )
        for bucket_start, part in spread(amounts, since, self.observed_at):
            requests, tokens_in, tokens_out, cached = part
            cost = (
                None
                if price is None
                else _cost(
                    price,
                    requests=requests,
                    input_tokens=tokens_in,
                    output_tokens=tokens_out,
                    cached_input_tokens=cached,
                )
            )
            self.book.add(
                (self.endpoint.pk, reading.series, bucket_start),
                model=reading.model,
                target=target,
                amounts=part,
                cost=cost,
            )
            self.days.add(bucket_start.date())

    # Buckets.

    def _add_bucket(self, reading: Reading) -> None:
        assert reading.bucket_start is not None
        endpoint = self.endpoint
        use_case_id, team_id = resolve_mapping(
            self.mappings,
            model=reading.model,
            project_id=reading.project_id,
            api_key_id=reading.api_key_id,
        )
        cost = reading.cost
        reported = cost is not None
        if cost is None and reading.measure == "usage" and not endpoint.is_self_hosted:
            price = self.prices.price(reading.model)
            if price is not None:
                cost = _cost(
                    price,
                    requests=reading.requests,
                    input_tokens=reading.input_tokens,
                    output_tokens=reading.output_tokens,
                    cached_input_tokens=reading.cached_input_tokens,
                    cache_write_tokens=reading.cache_write_tokens,
                    cache_write_1h_tokens=reading.cache_write_1h_tokens,
                    service_tier=reading.service_tier,
                )
        self.book.put(
            UsageSample(
                endpoint_id=endpoint.pk,
                series=reading.series,
                bucket_start=reading.bucket_start,
                bucket_end=reading.bucket_end or reading.bucket_start + HOUR,
                measure=reading.measure,
                model=reading.model,
                project_id=reading.project_id or "",
                api_key_id=reading.api_key_id or "",
                use_case_id=use_case_id,
                team_id=team_id,
                requests=reading.requests,
                input_tokens=reading.input_tokens,
                output_tokens=reading.output_tokens,
                cached_input_tokens=reading.cached_input_tokens,
                cache_write_tokens=reading.cache_write_tokens,
                cache_write_1h_tokens=reading.cache_write_1h_tokens,
                service_tier=reading.service_tier,
                cost=cost,
                cost_reported=reported,
            )
        )
        self.days.add(reading.bucket_start.astimezone(UTC).date())


def _previous_look(endpoint: ServingEndpoint) -> datetime | None:
    """When the portal last read this endpoint's counters (None: never)."""
    if endpoint.last_success_at is None:
        return None
    if endpoint.baseline_at is not None:
        return max(endpoint.last_success_at, endpoint.baseline_at)
    return endpoint.last_success_at


def _cost(price: Price, **usage: Any) -> Decimal:
    return price.cost(**usage).quantize(CENT)


def spread(
    amounts: tuple[int, ...], start: datetime, end: datetime
) -> list[tuple[datetime, tuple[int, ...]]]:
    """Split ``amounts`` over the hour buckets of ``[start, end]`` by time.

    Each bucket gets its share of the interval's seconds; integer parts are
    handed out by largest remainder, so the parts add up exactly. An empty or
    reversed interval books everything to the hour of ``end``.
    """
    end_bucket = floor_time(end, HOUR)
    if start >= end or floor_time(start, HOUR) == end_bucket:
        return [(end_bucket, amounts)]
    total = (end - start).total_seconds()
    buckets: list[tuple[datetime, float]] = []
    bucket = floor_time(start, HOUR)
    while bucket <= end_bucket:
        overlap = (min(bucket + HOUR, end) - max(bucket, start)).total_seconds()
        if overlap > 0:
            buckets.append((bucket, overlap / total))
        bucket += HOUR
    columns = [
        _apportion(amount, [share for _, share in buckets]) for amount in amounts
    ]
    parts = [
        (moment, tuple(column[index] for column in columns))
        for index, (moment, _) in enumerate(buckets)
    ]
    return [(moment, part) for moment, part in parts if any(part)]


def _apportion(amount: int, shares: list[float]) -> list[int]:
    exact = [amount * share for share in shares]
    parts = [math.floor(value) for value in exact]
    left = amount - sum(parts)
    order = sorted(
        range(len(exact)), key=lambda i: (exact[i] - parts[i], i), reverse=True
    )
    for index in order[:left]:
        parts[index] += 1
    return parts


class _SampleBook:
    """A batch's sample writes: increases to add and buckets to overwrite, one upsert."""

    def __init__(self) -> None:
        self._increases: dict[tuple[int, str, datetime], dict[str, Any]] = {}
        self._rows: dict[tuple[int, str, datetime], UsageSample] = {}

    def add(
        self,
        key: tuple[int, str, datetime],
        *,
        model: str,
        target: tuple[int | None, int | None],
        amounts: tuple[int, ...],
        cost: Decimal | None,
    ) -> None:
        entry = self._increases.get(key)
        if entry is None:
            entry = self._increases[key] = {
                "model": model,
                "target": target,
                "amounts": [0] * len(COUNTED),
                "cost": None,
            }
        entry["amounts"] = [
            a + b for a, b in zip(entry["amounts"], amounts, strict=True)
        ]
        if cost is not None:
            entry["cost"] = (entry["cost"] or Decimal(0)) + cost

    def put(self, sample: UsageSample) -> None:
        self._rows[(sample.endpoint_id, sample.series, sample.bucket_start)] = sample

    def save(self) -> None:
        rows = dict(self._rows)
        if self._increases:
            existing = self._existing(self._increases)
            for key, entry in self._increases.items():
                endpoint_id, series, bucket_start = key
                sample = existing.get(key)
                if sample is None:
                    use_case_id, team_id = entry["target"]
                    sample = UsageSample(
                        endpoint_id=endpoint_id,
                        series=series,
                        bucket_start=bucket_start,
                        bucket_end=bucket_start + HOUR,
                        model=entry["model"],
                        use_case_id=use_case_id,
                        team_id=team_id,
                    )
                for name, amount in zip(COUNTED, entry["amounts"], strict=True):
                    setattr(sample, name, (getattr(sample, name) or 0) + amount)
                if entry["cost"] is not None:
                    sample.cost = (sample.cost or Decimal(0)) + entry["cost"]
                rows[key] = sample
        if not rows:
            return
        now = timezone.now()
        for sample in rows.values():
            sample.updated_at = now
        UsageSample.objects.bulk_create(
            list(rows.values()),
            batch_size=500,
            update_conflicts=True,
            unique_fields=["endpoint", "series", "bucket_start"],
            update_fields=[*SAMPLE_VALUES, "updated_at"],
        )

    @staticmethod
    def _existing(
        keys: Iterable[tuple[int, str, datetime]],
    ) -> dict[tuple[int, str, datetime], UsageSample]:
        keys = list(keys)
        found = UsageSample.objects.filter(
            endpoint_id__in={k[0] for k in keys},
            series__in={k[1] for k in keys},
            bucket_start__in={k[2] for k in keys},
        )
        wanted = set(keys)
        return {
            key: sample
            for sample in found
            if (key := (sample.endpoint_id, sample.series, sample.bucket_start))
            in wanted
        }


class _StateBook:
    """Counter states of some endpoints, locked, read at once and written at once."""

    def __init__(self, endpoint_ids: set[int]) -> None:
        self._states: dict[tuple[int, str], CounterState] = {}
        self._dirty: dict[tuple[int, str], CounterState] = {}
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
            self._states[key] = state
        for name in COUNTED:
            setattr(state, name, getattr(reading, name))
        state.started_at = reading.started_at or state.started_at
        state.observed_at = observed_at
        self._dirty[key] = state

    def save(self) -> None:
        """One upsert for every new or changed state."""
        CounterState.objects.bulk_create(
            list(self._dirty.values()),
            batch_size=500,
            update_conflicts=True,
            unique_fields=["endpoint", "series"],
            update_fields=[*COUNTED, "started_at", "observed_at"],
        )
