"""Metering the gateway's traffic into the usage ledger, off the request path.

A finished request appends one JSON line to this process's spool file (one
``write`` to the operating system, which keeps it if the process is killed); a
flusher thread turns the spool into ledger rows every
``GATEWAY_FLUSH_INTERVAL`` seconds:

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

import atexit
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import Q, Sum

from apps.core.events import Event, EventKind, emit
from apps.endpoints.collectors.base import floor_time, series_name
from apps.endpoints.models import ServingEndpoint, UsageSample
from apps.endpoints.pricing import PriceBook
from apps.endpoints.services.portal_usage import collection_mode
from apps.endpoints.services.rollups import CENT, rollup_endpoints_day
from apps.endpoints.services.storage import writing
from apps.gateway.models import GatewayKey, GatewayRequestLog, GatewayUsage
from apps.usecases.models import AuditEvent, UseCase

logger = logging.getLogger(__name__)

HOUR = timedelta(hours=1)


def spool_dir() -> Path:
    path = Path(settings.GATEWAY_SPOOL_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


class Spool:
    """This process's append-only file of finished requests."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.name = f"{self.pid}-{uuid.uuid4().hex[:8]}"
        self.sequence = 0
        self.fd: int | None = None
        self.written = 0

    def _open(self) -> int:
        if self.fd is None:
            path = spool_dir() / f"{self.name}.jsonl"
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            # Held while this process lives: a file nobody holds is an orphan,
            # whatever process ids the machine hands out later.
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return self.fd

    def append(self, record: dict[str, Any]) -> None:
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        with self.lock:
            os.write(self._open(), line)
            self.written += 1

    def rotate(self) -> Path | None:
        """Close the current file and hand it to the flusher (None: nothing new)."""
        with self.lock:
            if self.fd is None or not self.written:
                return None
            self.sequence += 1
            current = spool_dir() / f"{self.name}.jsonl"
            ready = spool_dir() / f"{self.name}.{self.sequence}.ready"
            current.rename(ready)  # still locked: nobody takes it half written
            os.close(self.fd)
            self.fd = None
            self.written = 0
            return ready


_spool: Spool | None = None
_spool_lock = threading.Lock()
_flusher: threading.Thread | None = None
_refusals: Counter[tuple[int | None, int | None, str, str, int]] = Counter()
_refusals_lock = threading.Lock()


def _get_spool() -> Spool:
    global _spool, _flusher
    if _spool is None or _spool.pid != os.getpid():
        with _spool_lock:
            if _spool is None or _spool.pid != os.getpid():
                _spool = Spool()
                _flusher = threading.Thread(
                    target=_flush_forever, name="gateway-metering", daemon=True
                )
                _flusher.start()
                atexit.register(flush_at_exit)
    return _spool


def record(entry: dict[str, Any]) -> None:
    """Keep one finished request for the ledger (and the log, if the use-case has it)."""
    _get_spool().append(entry)


def refused(
    *, key_id: int | None, use_case_id: int | None, code: str, message: str
) -> None:
    """Count a refusal; audited once per key, reason and minute, with the count."""
    _get_spool()
    minute = int(time.time() // 60)
    with _refusals_lock:
        _refusals[(key_id, use_case_id, code, message[:300], minute)] += 1


def _flush_forever() -> None:
    while True:
        time.sleep(float(settings.GATEWAY_FLUSH_INTERVAL))
        try:
            flush_pending()
        except Exception:  # the spool stays; the next round retries
            logger.exception("Gateway metering flush failed; will retry")
        finally:
            connections.close_all()


def flush_pending(*, include_refusals_of_this_minute: bool = False) -> int:
    """Flush this process's spool and any file no live process holds; return the count.

    A file is taken only under an exclusive lock, so two flushers never write
    the same file at once, and a writer's own open file is never taken.
    """
    if _spool is not None and _spool.pid == os.getpid():
        _spool.rotate()
    count = 0
    for path in sorted(spool_dir().glob("*.ready")) + sorted(
        spool_dir().glob("*.jsonl")
    ):
        count += _flush_file(path)
    _audit_refusals(all_minutes=include_refusals_of_this_minute)
    return count


def _flush_file(path: Path) -> int:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return 0  # another flusher finished it
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # its writer is alive, or another flusher has it
        if not path.exists():
            return 0
        entries = _read(path)
        if entries:
            write_entries(entries)
        path.unlink(missing_ok=True)
        return len(entries)
    finally:
        os.close(fd)


def _read(path: Path) -> list[dict[str, Any]]:
    entries = []
    for line in path.read_bytes().splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue  # a line cut short by a kill: that request was in flight
    return entries


def flush_at_exit() -> None:
    """On a clean stop: the last spool lines and this minute's refusals."""
    try:
        flush_pending(include_refusals_of_this_minute=True)
    except Exception:
        logger.exception("Gateway metering: the final flush failed; the spool stays")


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
