"""Daily rollups (what dashboards read) and pruning of raw samples.

A day's rollup rows are recomputed from its samples whenever a poll touches the
day, and written as an upsert: rows whose sums did not change are not written
again, changed rows are updated in place, new ones inserted, vanished ones
deleted. Each rebuilt day also rebuilds its month's rows
(:class:`~apps.endpoints.models.MonthlyUsage`) from the daily ones, the same way,
so reports over long periods read a row a month. Raw hourly samples are kept for
``USAGE_SAMPLE_RETENTION_DAYS`` (400 by default) and then pruned by a beat task;
daily and monthly rollups are kept forever.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Model, Sum
from django.utils import timezone

from apps.endpoints.models import (
    DailyUsage,
    MonthlyUsage,
    ServingEndpoint,
    UsageSample,
)

DAY = timedelta(days=1)
CENT = Decimal("0.000001")
_SUMMED = ("requests", "input_tokens", "output_tokens", "cost")


def update_rows(
    model: type[Model], rows: Sequence[Model], fields: Sequence[str]
) -> None:
    """Write ``fields`` of existing ``rows``: one prepared UPDATE, executed many times.

    Much cheaper than ``bulk_update`` (a ``CASE WHEN`` per field and row to build)
    or a queryset ``update()`` per row, and still one round trip per batch.
    """
    if not rows:
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    sql = "UPDATE {} SET {} WHERE {} = %s".format(
        quote(meta.db_table),
        ", ".join(f"{quote(field.column)} = %s" for field in columns),
        quote(meta.pk.column),
    )
    params = [
        [
            *(
                field.get_db_prep_save(getattr(row, field.attname), connection)
                for field in columns
            ),
            row.pk,
        ]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


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
    """:func:`rollup_day` for several endpoints at once, in a few queries."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    end = start + DAY
    by_endpoint: dict[int, list[UsageSample]] = {e.pk: [] for e in endpoints}
    attributed: dict[int, list[UsageSample]] = defaultdict(list)
    for sample in UsageSample.objects.filter(
        endpoint_id__in=list(by_endpoint),
        measure__in=[UsageSample.Measure.USAGE, UsageSample.Measure.GATEWAY],
        bucket_start__gte=start,
        bucket_start__lt=end,
    ).order_by("pk"):
        if sample.measure == UsageSample.Measure.GATEWAY:
            attributed[sample.endpoint_id].append(sample)
        else:
            by_endpoint[sample.endpoint_id].append(sample)
    wanted: dict[tuple[int, int | None, int | None, str], DailyUsage] = {}
    for endpoint in endpoints:
        samples = by_endpoint[endpoint.pk]
        idle_cost = Decimal(0)
        if endpoint.is_self_hosted:
            idle_cost = _allocate_hourly_cost(endpoint, samples, start, end)
        groups = _sums_by_group(samples)
        if attributed[endpoint.pk]:
            _move_gateway_usage(groups, attributed[endpoint.pk], endpoint)
        if idle_cost:
            groups[(None, None, "")]["cost"] += idle_cost
        for (use_case_id, team_id, model), sums in groups.items():
            wanted[(endpoint.pk, use_case_id, team_id, model)] = DailyUsage(
                date=day,
                endpoint=endpoint,
                use_case_id=use_case_id,
                team_id=team_id,
                model=model,
                vendor=endpoint.vendor_name,
                location=endpoint.location,
                **sums,
            )
    rows = _upsert(wanted, endpoint_ids=list(by_endpoint), day=day)
    rollup_month(endpoint_ids=list(by_endpoint), month=day.replace(day=1))
    return rows


_MONTH_KEY = ("endpoint_id", "use_case_id", "team_id", "model", "vendor", "location")


def rollup_month(*, endpoint_ids: Sequence[int], month: date) -> None:
    """Rebuild the endpoints' monthly rows for ``month`` from their daily rows.

    One grouped query, then the same upsert as the days: unchanged rows are not
    written, vanished ones are deleted. Sums are exact (decimal in the database;
    quantised to the ledger's six places where SQLite hands back a float).
    """
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    sums = (
        DailyUsage.objects.filter(
            endpoint_id__in=endpoint_ids, date__gte=month, date__lt=following
        )
        .values(*_MONTH_KEY)
        .annotate(
            sum_requests=Sum("requests"),
            sum_input_tokens=Sum("input_tokens"),
            sum_output_tokens=Sum("output_tokens"),
            sum_cost=Sum("cost"),
        )
        .order_by()
    )
    wanted = {
        tuple(row[name] for name in _MONTH_KEY): MonthlyUsage(
            month=month,
            **{name: row[name] for name in _MONTH_KEY},
            requests=row["sum_requests"] or 0,
            input_tokens=row["sum_input_tokens"] or 0,
            output_tokens=row["sum_output_tokens"] or 0,
            cost=Decimal(str(row["sum_cost"] or 0)).quantize(CENT),
        )
        for row in sums
    }
    fields = ("requests", "input_tokens", "output_tokens", "cost")
    changed: list[MonthlyUsage] = []
    stale: list[int] = []
    for row in MonthlyUsage.objects.filter(endpoint_id__in=endpoint_ids, month=month):
        new = wanted.pop(tuple(getattr(row, name) for name in _MONTH_KEY), None)
        if new is None:
            stale.append(row.pk)
        elif any(getattr(row, name) != getattr(new, name) for name in fields):
            for name in fields:
                setattr(row, name, getattr(new, name))
            changed.append(row)
    if stale:
        MonthlyUsage.objects.filter(pk__in=stale).delete()
    update_rows(MonthlyUsage, changed, fields)
    MonthlyUsage.objects.bulk_create(list(wanted.values()), batch_size=500)


Groups = dict[tuple[int | None, int | None, str], dict[str, Any]]


def _sums_by_group(samples: list[UsageSample]) -> Groups:
    """Requests, tokens and cost summed per (use-case, team, model)."""
    groups: Groups = defaultdict(
        lambda: dict.fromkeys(_SUMMED, 0) | {"cost": Decimal(0)}
    )
    for sample in samples:
        sums = groups[(sample.use_case_id, sample.team_id, sample.model)]
        sums["requests"] += sample.requests
        sums["input_tokens"] += sample.input_tokens
        sums["output_tokens"] += sample.output_tokens
        sums["cost"] += sample.cost or Decimal(0)
    return groups


def _move_gateway_usage(
    groups: Groups,
    attributed: list[UsageSample],
    endpoint: ServingEndpoint,
) -> None:
    """Give the gateway's traffic to its use-cases; the collector keeps the rest.

    The collector counted every token the endpoint served, the gateway's
    included. Per model and day, the gateway's tokens (and requests) are taken
    from the collector's groups of that model — unmapped usage first — and
    booked to the gateway's use-case, so nothing counts twice. When the gateway
    saw more than the collector has read so far (a poll still to come), the
    gateway's figures stand and the collector's are used up: the day's total is
    the larger of the two, until the next poll catches up. Cost moves with the
    tokens: a share of the collector's cost on self-hosted endpoints, the
    gateway's own per-request price on token-priced ones.
    """
    for (use_case_id, team_id, model), sums in _sums_by_group(attributed).items():
        left = {
            name: sums[name] for name in ("requests", "input_tokens", "output_tokens")
        }
        moved_cost = Decimal(0)
        donors = sorted(
            (
                key
                for key in groups
                if key[2] == model and key[:2] != (use_case_id, team_id)
            ),
            key=lambda key: (key[0] is not None, key[0] or 0, key[1] or 0),
        )
        for key in donors:
            donor = groups[key]
            tokens_before = donor["input_tokens"] + donor["output_tokens"]
            for name in left:
                taken = min(left[name], donor[name])
                donor[name] -= taken
                left[name] -= taken
            tokens_after = donor["input_tokens"] + donor["output_tokens"]
            if tokens_before:
                share = donor["cost"] * (tokens_before - tokens_after) / tokens_before
                share = share.quantize(CENT)
                donor["cost"] -= share
                moved_cost += share
            if not any(
                donor[name] for name in ("requests", "input_tokens", "output_tokens")
            ):
                moved_cost += donor["cost"]
                del groups[key]
        target = groups[(use_case_id, team_id, model)]
        target["requests"] += sums["requests"]
        target["input_tokens"] += sums["input_tokens"]
        target["output_tokens"] += sums["output_tokens"]
        target["cost"] += moved_cost if endpoint.is_self_hosted else sums["cost"]


def _upsert(
    wanted: dict[tuple[int, int | None, int | None, str], DailyUsage],
    *,
    endpoint_ids: list[int],
    day: date,
) -> list[DailyUsage]:
    """Write ``wanted`` over the day's rows: update changed, add new, drop vanished."""
    fields = ("requests", "input_tokens", "output_tokens", "cost", "vendor", "location")
    changed: list[DailyUsage] = []
    stale: list[int] = []
    kept: list[DailyUsage] = []
    for row in DailyUsage.objects.filter(endpoint_id__in=endpoint_ids, date=day):
        key = (row.endpoint_id, row.use_case_id, row.team_id, row.model)
        new = wanted.pop(key, None)
        if new is None:
            stale.append(row.pk)
            continue
        if any(getattr(row, name) != getattr(new, name) for name in fields):
            for name in fields:
                setattr(row, name, getattr(new, name))
            changed.append(row)
        kept.append(row)
    if stale:
        DailyUsage.objects.filter(pk__in=stale).delete()
    if changed:
        update_rows(DailyUsage, changed, fields)
    created = DailyUsage.objects.bulk_create(list(wanted.values()), batch_size=500)
    return [*kept, *created]


def _allocate_hourly_cost(
    endpoint: ServingEndpoint,
    samples: list[UsageSample],
    start: datetime,
    end: datetime,
) -> Decimal:
    """Spread the day's cost over ``samples`` by tokens; return what is left idle.

    Only samples whose share changed are written back.
    """
    assert endpoint.hourly_cost is not None
    now = timezone.now()
    seconds = (min(end, now) - start).total_seconds()
    hours = Decimal(max(seconds, 0) / 3600).quantize(Decimal("0.0001"))
    day_cost = (endpoint.hourly_cost * hours).quantize(CENT, rounding=ROUND_HALF_UP)
    tokens = sum(s.input_tokens + s.output_tokens for s in samples)
    before = {s.pk: s.cost for s in samples}
    if not tokens:
        for sample in samples:
            sample.cost = Decimal(0)
        _save_costs(samples, before)
        return day_cost
    allocated = Decimal(0)
    for sample in samples:
        share = Decimal(sample.input_tokens + sample.output_tokens) / Decimal(tokens)
        sample.cost = (day_cost * share).quantize(CENT, rounding=ROUND_HALF_UP)
        allocated += sample.cost
    # Rounding leftovers go to the largest sample, so the parts add up exactly.
    largest = max(samples, key=lambda s: s.input_tokens + s.output_tokens)
    largest.cost = (largest.cost or Decimal(0)) + (day_cost - allocated)
    _save_costs(samples, before)
    return Decimal(0)


def _save_costs(samples: list[UsageSample], before: dict[int, Decimal | None]) -> None:
    changed = [s for s in samples if before.get(s.pk) != s.cost]
    update_rows(UsageSample, changed, ["cost"])


def prune_usage_samples(*, now: datetime | None = None, batch: int = 5000) -> int:
    """Delete raw samples older than the retention period; keep the daily rollups.

    Whole days only (UTC), so no day's rollup is ever rebuilt from part of its
    samples. Deletes in batches to keep each transaction short.
    """
    now = now or timezone.now()
    days = int(settings.USAGE_SAMPLE_RETENTION_DAYS)
    cutoff = datetime.combine(
        (now - timedelta(days=days)).astimezone(UTC).date(), time.min, tzinfo=UTC
    )
    deleted = 0
    while True:
        ids = list(
            UsageSample.objects.filter(bucket_start__lt=cutoff).values_list(
                "pk", flat=True
            )[:batch]
        )
        if not ids:
            return deleted
        deleted += UsageSample.objects.filter(pk__in=ids).delete()[0]
