"""What the "Gateway traffic" panel reads: a use-case's gateway traffic by route.

One row per route (workload → endpoint / model) with requests, tokens, spend,
the share of estimated usage and p50/p95 latency over a period; refusals by
code; and the use-case's and its team's budgets this month. The number of
queries does not depend on the number of routes or requests: grouped
aggregates, merged in Python.

Latency percentiles follow PostgreSQL's ``percentile_cont`` (linear
interpolation between the two nearest values). On PostgreSQL the database
computes them in the grouped query; elsewhere one more query reads at most
:data:`LATENCY_SAMPLE` of each route's latest latencies and Python computes the
same function.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connections
from django.db.models import (
    Aggregate,
    F,
    FloatField,
    IntegerField,
    Q,
    QuerySet,
    Sum,
)
from django.db.models.expressions import Window
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, RowNumber
from django.utils import timezone

from apps.endpoints.models import ServingEndpoint
from apps.portfolio.queries import BudgetStatus, budget_statuses, exact
from apps.reviews.models import current_approval
from apps.usecases.models import AuditEvent, UseCase

from .models import GatewayUsage

#: period name: (label, length)
PERIODS: dict[str, tuple[str, timedelta]] = {
    "24h": ("Last 24 hours", timedelta(hours=24)),
    "7d": ("Last 7 days", timedelta(days=7)),
    "30d": ("Last 30 days", timedelta(days=30)),
}
DEFAULT_PERIOD = "24h"
#: Latest latencies per route read for the portable percentile (bounds memory).
LATENCY_SAMPLE = 10_000
REFUSED_KIND = "gateway.refused"

RouteKey = tuple[str, int, str]  # workload, endpoint id, model


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expr)``."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        # A float from this module, never user input: safe to inline.
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def percentile_cont(ordered: Sequence[int | float], fraction: float) -> float | None:
    """``percentile_cont`` of values sorted ascending (None when there are none)."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return float(ordered[low]) + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class RouteTraffic:
    """One route's traffic over the period (zeros for a route with none)."""

    workload: str
    endpoint_id: int
    endpoint_name: str
    model: str
    #: "target" or "fallback" in the routes in force; "" for traffic on a route
    #: that is no longer in force (an earlier decision).
    role: str
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    #: Exact (the ledger's six decimals); None when no request had a price
    #: (self-hosted endpoints get their cost in the daily rollup).
    cost: Decimal | None = None
    estimated_requests: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    #: The portable percentiles read only the latest LATENCY_SAMPLE requests.
    latency_sampled: bool = False

    @property
    def estimated_share(self) -> float | None:
        """Share of requests whose tokens the gateway counted itself (0 to 1)."""
        return self.estimated_requests / self.requests if self.requests else None

    @property
    def estimated_percent(self) -> float | None:
        share = self.estimated_share
        return None if share is None else share * 100

    @property
    def in_force(self) -> bool:
        return bool(self.role)


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A budget of the use-case or its team, as the gateway enforces it."""

    status: BudgetStatus

    @property
    def scope(self) -> str:
        return self.status.budget.scope

    @property
    def hard(self) -> bool:
        return self.status.budget.enforcement == self.status.budget.Enforcement.HARD

    @property
    def spent(self) -> Decimal:
        return self.status.spent

    @property
    def amount(self) -> Decimal:
        return self.status.amount

    @property
    def used_share(self) -> float | None:
        return float(self.spent / self.amount) if self.amount else None

    @property
    def used_percent(self) -> float | None:
        share = self.used_share
        return None if share is None else share * 100

    @property
    def reached(self) -> bool:
        """Month-to-date spend has reached the amount (the gateway's test)."""
        return self.spent >= self.amount

    @property
    def refusing(self) -> bool:
        """A hard budget that is reached: the gateway answers 429."""
        return self.hard and self.reached


@dataclass(frozen=True, slots=True)
class TrafficReport:
    period: str
    label: str
    since: datetime
    until: datetime
    routes: list[RouteTraffic]
    refusals: list[tuple[str, int]]  # (code, count), most first
    budgets: list[BudgetState]

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.routes)

    @property
    def cost(self) -> Decimal | None:
        costs = [r.cost for r in self.routes if r.cost is not None]
        return sum(costs, Decimal(0)) if costs else None

    @property
    def refused(self) -> int:
        return sum(count for _, count in self.refusals)

    @property
    def has_traffic(self) -> bool:
        return self.requests > 0 or self.refused > 0


def gateway_traffic(
    *, use_case: UseCase, period: str = DEFAULT_PERIOD, now: datetime | None = None
) -> TrafficReport:
    """The use-case's gateway traffic in ``period`` (a key of :data:`PERIODS`)."""
    label, length = PERIODS[period]
    until = now or timezone.now()
    since = until - length
    usage = GatewayUsage.objects.filter(
        use_case=use_case, created_at__gt=since, created_at__lte=until
    )
    routes = _route_rows(use_case, usage)
    return TrafficReport(
        period=period,
        label=label,
        since=since,
        until=until,
        routes=routes,
        refusals=_refusals(use_case, since, until),
        budgets=_budgets(use_case),
    )


def _route_rows(use_case: UseCase, usage: QuerySet[GatewayUsage]) -> list[RouteTraffic]:
    on_postgres = connections[usage.db].vendor == "postgresql"
    aggregates: dict[str, Any] = {
        "n": Sum("requests"),
        "i": Sum("input_tokens"),
        "o": Sum("output_tokens"),
        "cost": Sum("cost"),
        "estimated_n": Sum("requests", filter=Q(estimated=True)),
    }
    if on_postgres:
        aggregates["p50"] = PercentileCont("latency_ms", 0.5)
        aggregates["p95"] = PercentileCont("latency_ms", 0.95)
    sums = {
        (row["workload"], row["endpoint_id"], row["model"]): row
        for row in usage.values("workload", "endpoint_id", "model")
        .annotate(**aggregates)
        .order_by()
    }
    latencies = {} if on_postgres or not sums else _latencies(usage)

    in_force = _routes_in_force(use_case)
    keys = list(in_force) + sorted(k for k in sums if k not in in_force)
    names = dict(
        ServingEndpoint.objects.filter(pk__in={k[1] for k in keys}).values_list(
            "pk", "name"
        )
    )
    rows = []
    for key in keys:
        workload, endpoint_id, model = key
        found = sums.get(key)
        fields: dict[str, Any] = {
            "workload": workload,
            "endpoint_id": endpoint_id,
            "endpoint_name": names.get(endpoint_id, f"Endpoint {endpoint_id}"),
            "model": model,
            "role": in_force.get(key, ""),
        }
        if found is not None:
            fields.update(
                requests=found["n"] or 0,
                input_tokens=found["i"] or 0,
                output_tokens=found["o"] or 0,
                # Six places whatever the backend (SQLite may sum to a float).
                cost=None if found["cost"] is None else exact(found["cost"]),
                estimated_requests=found["estimated_n"] or 0,
            )
            if on_postgres:
                fields.update(p50_ms=found["p50"], p95_ms=found["p95"])
            else:
                values = sorted(latencies.get(key, []))
                fields.update(
                    p50_ms=percentile_cont(values, 0.5),
                    p95_ms=percentile_cont(values, 0.95),
                    latency_sampled=(found["n"] or 0) > len(values),
                )
        rows.append(RouteTraffic(**fields))
    return rows


def _latencies(usage: QuerySet[GatewayUsage]) -> dict[RouteKey, list[int]]:
    """Each route's latest LATENCY_SAMPLE latencies, in one query."""
    ranked = usage.annotate(
        rank=Window(
            RowNumber(),
            partition_by=[F("workload"), F("endpoint_id"), F("model")],
            order_by=[F("created_at").desc(), F("pk").desc()],
        )
    ).filter(rank__lte=LATENCY_SAMPLE)
    found: dict[RouteKey, list[int]] = defaultdict(list)
    for workload, endpoint_id, model, latency in ranked.values_list(
        "workload", "endpoint_id", "model", "latency_ms"
    ):
        found[(workload, endpoint_id, model)].append(latency)
    return found


def _routes_in_force(use_case: UseCase) -> dict[RouteKey, str]:
    """(workload, endpoint, model) → "target" | "fallback", in the routes' order."""
    approval = current_approval(use_case)
    in_force: dict[RouteKey, str] = {}
    for route in approval.routes if approval is not None else []:
        for role, targets in (
            ("target", route.get("targets", [])),
            ("fallback", route.get("fallback", [])),
        ):
            for target in targets:
                key = (route["workload"], target["endpoint"], target["model"])
                in_force.setdefault(key, role)
    return in_force


def _refusals(
    use_case: UseCase, since: datetime, until: datetime
) -> list[tuple[str, int]]:
    """Refused requests by error code: the folded audit events' counts summed."""
    rows = (
        AuditEvent.objects.filter(
            use_case=use_case,
            kind=REFUSED_KIND,
            created_at__gt=since,
            created_at__lte=until,
        )
        .values(code=KT("data__code"))
        .annotate(total=Sum(Cast(KT("data__count"), IntegerField())))
        .order_by()
    )
    found = [(row["code"] or "unknown", row["total"] or 0) for row in rows]
    return sorted(found, key=lambda item: (-item[1], item[0]))


def _budgets(use_case: UseCase) -> list[BudgetState]:
    """The use-case's own budget first, then its team's, spent this month.

    The portfolio's budget status (month-to-date spend from the daily rollups,
    gateway usage included), read over all spend as the gateway reads it.
    """
    statuses = budget_statuses(user=None, team_id=use_case.team_id)
    mine = [s for s in statuses if s.budget.use_case_id == use_case.pk]
    team = [
        s
        for s in statuses
        if s.budget.team_id is not None and s.budget.team_id == use_case.team_id
    ]
    return [BudgetState(s) for s in mine + team]
