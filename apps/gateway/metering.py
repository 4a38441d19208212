"""Metering the gateway's traffic into the usage ledger, off the request path.

A finished request appends one JSON line to this process's spool file (one
``write`` to the operating system, which keeps it if the process is killed); a
flusher thread turns the spool into ledger rows every
``GATEWAY_FLUSH_INTERVAL`` seconds. The spool and flusher are the ledger's
shared writer (:mod:`apps.endpoints.services.metering`, which the playground
and test sets use too); this module is its ``"gateway"`` sink:

- one :class:`GatewayUsage` row per request, inserted with ``ON CONFLICT DO
  NOTHING`` on the request id, so a flush retried after a crash (or the spool of
  a killed process, recovered by the next flusher) counts nothing twice;
- the hourly :class:`UsageSample` of each (endpoint, use-case, workload, model)
  touched is then recomputed from those rows (an absolute value, never an
  increment) and the day rolled up again. On endpoints whose collector also
  counts this traffic (vLLM, TGI, LiteLLM, OpenAI, Anthropic) the sample is an
  attribution (``measure="gateway"``): the rollup moves those tokens to the
  use-case and leaves the collector's remainder to the mappings;
- refusals are audited, folded to one event per key, reason and minute (per
  process) with their count; the opt-in request log gets its metadata rows.

Only requests still in flight when a process dies are lost; a process that
stops cleanly flushes its spool and its refusal counts on the way out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q, Sum

from apps.core.events import Event, EventKind, emit
from apps.endpoints.collectors.base import floor_time, series_name
from apps.endpoints.models import ServingEndpoint, UsageSample
from apps.endpoints.pricing import PriceBook
from apps.endpoints.services import metering as writer
from apps.endpoints.services.portal_usage import collection_mode
from apps.endpoints.services.rollups import CENT, rollup_endpoints_day
from apps.endpoints.services.storage import writing
from apps.gateway.models import GatewayKey, GatewayRequestLog, GatewayUsage
from apps.usecases.models import AuditEvent, UseCase

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)


# The spool and its flusher are the ledger's shared writer (the playground and
# test sets use it too); these names keep the gateway's callers as they were.
spool_dir = writer.spool_dir
_read = writer.read_spool
_get_spool = writer.get_spool
flush_at_exit = writer.flush_at_exit

_refusals: Counter[tuple[int | None, int | None, str, str, int]] = Counter()
_refusals_lock = threading.Lock()


def record(entry: dict[str, Any]) -> None:
    """Keep one finished request for the ledger (and the log, if the use-case has it)."""
    writer.record(entry)


def refused(
    *, key_id: int | None, use_case_id: int | None, code: str, message: str
) -> None:
    """Count a refusal; audited once per key, reason and minute, with the count."""
    writer.get_spool()  # starts the flusher that audits them
    minute = int(time.time() // 60)
    with _refusals_lock:
        _refusals[(key_id, use_case_id, code, message[:300], minute)] += 1


def flush_pending(*, include_refusals_of_this_minute: bool = False) -> int:
    """Flush this process's spool and any file no live process holds; return the count."""
    return writer.flush_pending(final=include_refusals_of_this_minute)


def write_entries(entries: Iterable[dict[str, Any]]) -> None:
    """Write finished requests to the ledger; idempotent on their request ids."""
    entries = list(entries)
    usage = [e for e in entries if e.get("endpoint") and e.get("status") == 200]
    endpoint_ids = {e["endpoint"] for e in usage}
    with writing():
        endpoints = ServingEndpoint.objects.select_for_update().in_bulk(endpoint_ids)
        catalogue: dict[str, Any] = {}
        rows = []
        for entry in usage:
            endpoint = endpoints.get(entry["endpoint"])
            if endpoint is None:
                continue
            rows.append(_usage_row(entry, endpoint, PriceBook(endpoint, catalogue)))
        GatewayUsage.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
        _spend_seen(rows)
        touched = {
            (
                row.endpoint_id,
                row.use_case_id,
                row.workload,
                row.model,
                row.bucket_start,
            )
            for row in rows
        }
        days = _recompute_samples(touched, endpoints)
        for day, day_endpoints in sorted(days.items()):
            rollup_endpoints_day(endpoints=list(day_endpoints.values()), day=day)
        _touch_keys(entries)
        GatewayRequestLog.objects.bulk_create(
            [_log_row(e) for e in entries if e.get("log")],
            batch_size=500,
            ignore_conflicts=True,
        )


def _touch_keys(entries: list[dict[str, Any]]) -> None:
    """Show each key's last use: one UPDATE per key and flush, never backwards."""
    latest: dict[int, float] = {}
    for entry in entries:
        if entry.get("key") and entry.get("status") == 200:
            latest[entry["key"]] = max(latest.get(entry["key"], 0.0), entry["at"])
    for key_id, at in latest.items():
        moment = datetime.fromtimestamp(at, tz=UTC)
        GatewayKey.objects.filter(pk=key_id).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=moment)
        ).update(last_used_at=moment)


def _usage_row(
    entry: dict[str, Any], endpoint: ServingEndpoint, prices: PriceBook
) -> GatewayUsage:
    at = datetime.fromtimestamp(entry["at"], tz=UTC)
    cost = None
    if not endpoint.is_self_hosted:
        price = prices.price(entry["model"])
        if price is not None:
            cost = price.cost(
                input_tokens=entry["input_tokens"],
                output_tokens=entry["output_tokens"],
                cached_input_tokens=min(
                    entry.get("cached_input_tokens", 0), entry["input_tokens"]
                ),
                requests=1,
            ).quantize(CENT)
    return GatewayUsage(
        request_id=entry["id"],
        use_case_id=entry["use_case"],
        workload=entry.get("workload", ""),
        endpoint_id=endpoint.pk,
        model=entry["model"],
        bucket_start=floor_time(at, HOUR),
        input_tokens=entry["input_tokens"],
        output_tokens=entry["output_tokens"],
        cached_input_tokens=entry.get("cached_input_tokens", 0),
        cost=cost,
        estimated=bool(entry.get("estimated")),
        latency_ms=int(entry.get("latency_ms", 0)),
        created_at=at,
    )


def _spend_seen(rows: list[GatewayUsage]) -> None:
    from apps.gateway import snapshot

    by_use_case: dict[int, Decimal] = defaultdict(Decimal)
    for row in rows:
        if row.cost:
            by_use_case[row.use_case_id] += row.cost
    for use_case_id, cost in by_use_case.items():
        snapshot.add_spend_of(use_case_id, cost)


def gateway_series(use_case_id: int, workload: str, model: str) -> str:
    return series_name(
        "gateway", use_case=str(use_case_id), workload=workload, model=model
    )


def _recompute_samples(
    touched: set[tuple[int, int, str, str, datetime]],
    endpoints: dict[int, ServingEndpoint],
) -> dict[date, dict[int, ServingEndpoint]]:
    """Set each touched gateway sample to the sum of its requests; days to roll up."""
    if not touched:
        return {}
    sums = (
        GatewayUsage.objects.filter(
            endpoint_id__in={t[0] for t in touched},
            bucket_start__in={t[4] for t in touched},
        )
        .values("endpoint_id", "use_case_id", "workload", "model", "bucket_start")
        .annotate(
            n=Sum("requests"),
            i=Sum("input_tokens"),
            o=Sum("output_tokens"),
            c=Sum("cached_input_tokens"),
            cost=Sum("cost"),
        )
    )
    teams = dict(
        UseCase.objects.filter(pk__in={t[1] for t in touched}).values_list(
            "pk", "team_id"
        )
    )
    samples = []
    days: dict[date, dict[int, ServingEndpoint]] = defaultdict(dict)
    for row in sums:
        key = (
            row["endpoint_id"],
            row["use_case_id"],
            row["workload"],
            row["model"],
            row["bucket_start"],
        )
        if key not in touched:
            continue
        endpoint = endpoints[row["endpoint_id"]]
        measure = (
            UsageSample.Measure.GATEWAY
            # Its collector counts this traffic too: an attribution only.
            if collection_mode(endpoint) not in (None, "none")
            else UsageSample.Measure.USAGE
        )
        samples.append(
            UsageSample(
                endpoint=endpoint,
                series=gateway_series(
                    row["use_case_id"], row["workload"], row["model"]
                ),
                bucket_start=row["bucket_start"],
                bucket_end=row["bucket_start"] + HOUR,
                measure=measure,
                model=row["model"],
                use_case_id=row["use_case_id"],
                team_id=teams.get(row["use_case_id"]),
                requests=row["n"],
                input_tokens=row["i"],
                output_tokens=row["o"],
                cached_input_tokens=row["c"],
                cost=row["cost"],
            )
        )
        days[row["bucket_start"].astimezone(UTC).date()][endpoint.pk] = endpoint
    UsageSample.objects.bulk_create(
        samples,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["endpoint", "series", "bucket_start"],
        update_fields=[
            "measure",
            "use_case",
            "team",
            "requests",
            "input_tokens",
            "output_tokens",
            "cached_input_tokens",
            "cost",
        ],
    )
    return days


def _log_row(entry: dict[str, Any]) -> GatewayRequestLog:
    return GatewayRequestLog(
        request_id=entry["id"],
        use_case_id=entry["use_case"],
        key_id=entry.get("key"),
        at=datetime.fromtimestamp(entry["at"], tz=UTC),
        workload=entry.get("workload", ""),
        endpoint_id=entry.get("endpoint"),
        model=entry.get("model", ""),
        status=entry["status"],
        error_code=entry.get("code", ""),
        input_tokens=entry.get("input_tokens", 0),
        output_tokens=entry.get("output_tokens", 0),
        latency_ms=entry.get("latency_ms", 0),
    )


def _audit_refusals(*, all_minutes: bool) -> None:
    current = int(time.time() // 60)
    with _refusals_lock:
        due = {k: v for k, v in _refusals.items() if all_minutes or k[4] < current}
        for key in due:
            del _refusals[key]
    for (key_id, use_case_id, code, message, minute), count in due.items():
        AuditEvent.objects.create(
            kind="gateway.refused",
            summary=f"Gateway refused {count} request(s): {message}"[:500],
            use_case_id=use_case_id,
            data={
                "key": key_id,
                "code": code,
                "count": count,
                "minute": datetime.fromtimestamp(minute * 60, tz=UTC).isoformat(),
            },
        )
    _emit_refusal_spikes(due)


def _emit_refusal_spikes(
    due: dict[tuple[int | None, int | None, str, str, int], int],
) -> None:
    """A use-case refused at least NOTIFY_REFUSAL_SPIKE_PER_MINUTE times in a
    minute (in this process) is an event: once per use-case and minute."""
    per_minute: Counter[tuple[int, int]] = Counter()
    for (_, use_case_id, _, _, minute), count in due.items():
        if use_case_id is not None:
            per_minute[(use_case_id, minute)] += count
    spikes = {
        key: count
        for key, count in per_minute.items()
        if count >= settings.NOTIFY_REFUSAL_SPIKE_PER_MINUTE
    }
    if not spikes:
        return
    use_cases = UseCase.objects.in_bulk({use_case_id for use_case_id, _ in spikes})
    for (use_case_id, minute), count in spikes.items():
        use_case = use_cases.get(use_case_id)
        if use_case is None:
            continue
        at = datetime.fromtimestamp(minute * 60, tz=UTC)
        emit(
            Event(
                kind=EventKind.GATEWAY_REFUSALS_SPIKING,
                key=f"gateway_refusals:{use_case_id}:{minute}",
                title=f"Gateway refusals spiking: {use_case.title}",
                body=f"The gateway refused {count} requests for this use-case in "
                f"the minute from {at:%H:%M} UTC.",
                url=use_case.get_absolute_url(),
                use_case_id=use_case_id,
                team_id=use_case.team_id,
                user_ids=(use_case.owner_id,),
                roles=("platform",),
                context={"count": count, "minute": at.isoformat()},
            )
        )


def _after_flush(*, final: bool) -> None:
    _audit_refusals(all_minutes=final)


writer.register_sink(writer.DEFAULT_SINK, write_entries, after_flush=_after_flush)
