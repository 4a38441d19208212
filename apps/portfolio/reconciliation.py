"""Provider bills against the portal's computed spend, and the rows that explain a gap.

OpenAI's costs API and Anthropic's cost report are stored as ``measure="cost"``
samples (daily, per project or workspace, no model). For each provider endpoint
and UTC day (or month) this sets their sum, the *billed cost*, against the
*computed cost*: the ``measure="usage"`` samples' cost for the same endpoint and
period. ``variance = billed - computed`` (positive: the provider billed more than
the portal counted), and ``variance_percent`` is that of the billed cost.

The usage that explains a gap: rows without a use-case (keys or projects no
mapping covers; their cost is counted but belongs to nobody) and rows without a
price (``cost`` is null: a model the catalogue does not price, so the portal
counts nothing for its tokens).

Reads are grouped aggregates: three queries for the rows of any range, one more
for the explanations of the rows shown (a page).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import (
    BooleanField,
    ExpressionWrapper,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.functions import TruncDate, TruncMonth

from apps.endpoints.models import VENDOR_BY_KIND, ServingEndpoint, UsageSample

from .queries import ZERO, add_months, exact

PERIODS = ("day", "month")
PER_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Explanation:
    """Usage of one model, project and key that a provider bill covers but the
    portal cannot attribute (no use-case) or cannot price (no price)."""

    reason: str  # "no_use_case" or "no_price"
    model: str
    project_id: str
    api_key_id: str
    requests: int
    input_tokens: int
    output_tokens: int
    cost: Decimal | None  # None for usage without a price


@dataclass(slots=True)
class ReconciliationRow:
    """One provider endpoint in one day (or month)."""

    period: date  # the day, or the month's first day
    endpoint_id: int
    endpoint_name: str
    provider: str
    billed_cost: Decimal | None  # None: no cost report for this period
    computed_cost: Decimal
    requests: int
    input_tokens: int
    output_tokens: int
    unmapped_cost: Decimal
    unmapped_input_tokens: int
    unmapped_output_tokens: int
    unpriced_requests: int
    unpriced_input_tokens: int
    unpriced_output_tokens: int
    explanations: list[Explanation] = field(default_factory=list)

    @property
    def variance(self) -> Decimal | None:
        if self.billed_cost is None:
            return None
        return self.billed_cost - self.computed_cost

    @property
    def variance_percent(self) -> Decimal | None:
        """The variance as a per cent of the billed cost (None when nothing billed)."""
        if self.billed_cost is None or not self.billed_cost:
            return None
        assert self.variance is not None
        return (self.variance * 100 / self.billed_cost).quantize(PER_CENT)


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums of the rows, exact: ``billed - computed`` over the rows that were billed."""

    billed_cost: Decimal
    computed_cost: Decimal
    computed_cost_billed_periods: Decimal
    unmapped_cost: Decimal
    unpriced_input_tokens: int
    unpriced_output_tokens: int

    @property
    def variance(self) -> Decimal:
        return self.billed_cost - self.computed_cost_billed_periods


def default_range(today: date) -> tuple[date, date]:
    """This month and the two before it."""
    return add_months(today, -2), today


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(start, time.min, tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC),
    )


def _period_expression(period: str) -> Any:
    if period == "month":
        return TruncMonth("bucket_start", tzinfo=UTC)
    return TruncDate("bucket_start", tzinfo=UTC)


def _as_date(value: Any) -> date:
    return value.date() if isinstance(value, datetime) else value


def _samples(
    start: date, end: date, period: str, measure: str
) -> QuerySet[UsageSample]:
    low, high = _bounds(start, end)
    return (
        UsageSample.objects.filter(
            measure=measure, bucket_start__gte=low, bucket_start__lt=high
        )
        .annotate(period=_period_expression(period))
        .order_by()
    )


def reconcile(
    *, start: date, end: date, period: str = "day"
) -> list[ReconciliationRow]:
    """Every provider endpoint and period between ``start`` and ``end`` (UTC days,
    both included) that was billed or used, oldest first (three queries).

    Months are cut to the range: with ``start`` on the 10th, that month's row
    covers the 10th onwards, for the bill and the usage alike.
    """
    billed: dict[tuple[int, date], Decimal] = {}
    for row in (
        _samples(start, end, period, UsageSample.Measure.COST)
        .values("endpoint_id", "period")
        .annotate(cost=Sum("cost"))
    ):
        billed[(row["endpoint_id"], _as_date(row["period"]))] = exact(row["cost"])

    billed_endpoints = {endpoint_id for endpoint_id, _ in billed}
    no_use_case = Q(use_case__isnull=True)
    no_price = Q(cost__isnull=True)
    used = (
        _samples(start, end, period, UsageSample.Measure.USAGE)
        .filter(
            Q(endpoint__kind__in=list(VENDOR_BY_KIND))
            | Q(endpoint_id__in=sorted(billed_endpoints))
        )
        .values("endpoint_id", "period")
        .annotate(
            computed_cost=Sum("cost"),
            all_requests=Sum("requests"),
            all_input_tokens=Sum("input_tokens"),
            all_output_tokens=Sum("output_tokens"),
            unmapped_cost=Sum("cost", filter=no_use_case),
            unmapped_input_tokens=Sum("input_tokens", filter=no_use_case),
            unmapped_output_tokens=Sum("output_tokens", filter=no_use_case),
            unpriced_requests=Sum("requests", filter=no_price),
            unpriced_input_tokens=Sum("input_tokens", filter=no_price),
            unpriced_output_tokens=Sum("output_tokens", filter=no_price),
        )
    )
    usage = {(row["endpoint_id"], _as_date(row["period"])): row for row in used}

    keys = sorted(set(billed) | set(usage), key=lambda key: (key[1], key[0]))
    endpoints = {
        endpoint.pk: endpoint
        for endpoint in ServingEndpoint.objects.filter(
            pk__in={endpoint_id for endpoint_id, _ in keys}
        ).only("pk", "name", "kind", "vendor", "location")
    }
    rows = []
    for endpoint_id, day in keys:
        sums = usage.get((endpoint_id, day), {})
        endpoint = endpoints[endpoint_id]
        rows.append(
            ReconciliationRow(
                period=day,
                endpoint_id=endpoint_id,
                endpoint_name=endpoint.name,
                provider=endpoint.vendor_name,
                billed_cost=billed.get((endpoint_id, day)),
                computed_cost=exact(sums.get("computed_cost")),
                requests=sums.get("all_requests") or 0,
                input_tokens=sums.get("all_input_tokens") or 0,
                output_tokens=sums.get("all_output_tokens") or 0,
                unmapped_cost=exact(sums.get("unmapped_cost")),
                unmapped_input_tokens=sums.get("unmapped_input_tokens") or 0,
                unmapped_output_tokens=sums.get("unmapped_output_tokens") or 0,
                unpriced_requests=sums.get("unpriced_requests") or 0,
                unpriced_input_tokens=sums.get("unpriced_input_tokens") or 0,
                unpriced_output_tokens=sums.get("unpriced_output_tokens") or 0,
            )
        )
    return rows


def attach_explanations(
    rows: Sequence[ReconciliationRow], *, start: date, end: date, period: str
) -> None:
    """Fill each row's ``explanations``, largest first (one query for all rows)."""
    if not rows:
        return
    first = max(start, min(row.period for row in rows))
    last = max(row.period for row in rows)
    if period == "month":
        last = add_months(last, 1) - timedelta(days=1)
    last = min(end, last)
    by_key = {(row.endpoint_id, row.period): row for row in rows}
    found = (
        _samples(first, last, period, UsageSample.Measure.USAGE)
        .filter(endpoint_id__in={row.endpoint_id for row in rows})
        .filter(Q(use_case__isnull=True) | Q(cost__isnull=True))
        .annotate(
            unpriced=ExpressionWrapper(
                Q(cost__isnull=True), output_field=BooleanField()
            )
        )
        .values(
            "endpoint_id", "period", "unpriced", "model", "project_id", "api_key_id"
        )
        .annotate(
            requests=Sum("requests"),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            cost=Sum("cost"),
        )
    )
    for found_row in found:
        row = by_key.get((found_row["endpoint_id"], _as_date(found_row["period"])))
        if row is None:
            continue
        unpriced = bool(found_row["unpriced"])
        row.explanations.append(
            Explanation(
                reason="no_price" if unpriced else "no_use_case",
                model=found_row["model"],
                project_id=found_row["project_id"],
                api_key_id=found_row["api_key_id"],
                requests=found_row["requests"] or 0,
                input_tokens=found_row["input_tokens"] or 0,
                output_tokens=found_row["output_tokens"] or 0,
                cost=None if unpriced else exact(found_row["cost"]),
            )
        )
    for row in rows:
        row.explanations.sort(
            key=lambda e: (
                e.reason,
                -(e.cost or ZERO),
                -(e.input_tokens + e.output_tokens),
                e.model,
                e.project_id,
                e.api_key_id,
            )
        )


def totals(rows: Sequence[ReconciliationRow]) -> Totals:
    billed = [row for row in rows if row.billed_cost is not None]
    return Totals(
        billed_cost=sum((row.billed_cost or ZERO for row in billed), ZERO),
        computed_cost=sum((row.computed_cost for row in rows), ZERO),
        computed_cost_billed_periods=sum((row.computed_cost for row in billed), ZERO),
        unmapped_cost=sum((row.unmapped_cost for row in rows), ZERO),
        unpriced_input_tokens=sum(row.unpriced_input_tokens for row in rows),
        unpriced_output_tokens=sum(row.unpriced_output_tokens for row in rows),
    )
