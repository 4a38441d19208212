"""Spend as FinOps FOCUS 1.x CSV (the FinOps Open Cost and Usage Specification).

One row per UTC day, endpoint, model and use-case (and team) of the daily
rollups the user may read, as :func:`apps.portfolio.queries.scoped_usage` gives
them, so the rows add up to the spend API and the portfolio to the last decimal.

Semantics, after the specification's column definitions:

- ``ChargePeriodStart`` is inclusive and ``ChargePeriodEnd`` exclusive
  (``2026-03-01T00:00:00Z`` to ``2026-03-02T00:00:00Z`` is 1 March); the billing
  period is the calendar month, likewise.
- ``BilledCost`` = ``EffectiveCost`` = ``ListCost`` = ``ContractedCost``: the
  portal's cost at catalogue (list) prices, no discounts or commitments known.
  Self-hosted endpoints carry their hourly hardware cost apportioned by tokens;
  a day without tokens is one idle-capacity row without use-case or model.
- ``ConsumedQuantity`` is input plus output tokens, ``ConsumedUnit`` "Tokens".
- ``Tags`` is a JSON object of strings: ``use_case``, ``use_case_id``, ``team``
  and ``workload`` (the use-case's task types, largest share first) when known.
- ``x_``-prefixed columns are the portal's own (custom columns, as FOCUS allows).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from apps.endpoints.models import VENDOR_BY_KIND, ServingEndpoint
from apps.usecases.models import Workload

from . import exports
from .queries import add_months, exact, scoped_usage

if TYPE_CHECKING:
    from apps.accounts.models import User

COLUMNS = [
    "BilledCost",
    "BillingCurrency",
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargeFrequency",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ContractedCost",
    "EffectiveCost",
    "ListCost",
    "ProviderName",
    "PublisherName",
    "ResourceId",
    "ResourceName",
    "ResourceType",
    "ServiceCategory",
    "ServiceName",
    "Tags",
    "x_Model",
    "x_Requests",
    "x_InputTokens",
    "x_OutputTokens",
]
SERVICE_CATEGORY = "AI and Machine Learning"
CURRENCY = "USD"
#: Rows fetched from the database at a time while streaming.
CHUNK = 2000


def _moment(day: date) -> str:
    return datetime.combine(day, time.min, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _service_name(kind: str, location: str) -> str:
    if kind in VENDOR_BY_KIND:
        return f"{VENDOR_BY_KIND[kind]} API"
    label = str(ServingEndpoint.Kind(kind).label) if kind else "Model serving"
    if location == ServingEndpoint.Location.IN_HOUSE:
        return f"{label} (self-hosted)"
    return label


def _workloads(rows: Any) -> dict[int, str]:
    """Each use-case's task types, largest share first (one query)."""
    found: dict[int, list[str]] = defaultdict(list)
    for use_case_id, task_type in (
        Workload.objects.filter(use_case_id__in=rows.values("use_case_id"))
        .order_by("use_case_id", "-share", "pk")
        .values_list("use_case_id", "task_type")
    ):
        if task_type not in found[use_case_id]:
            found[use_case_id].append(task_type)
    return {key: ",".join(values) for key, values in found.items()}


def focus_rows(*, user: User, start: date, end: date) -> Iterator[list[Any]]:
    """The rows (without header) for ``start`` to ``end`` (UTC days, both included)."""
    rows = scoped_usage(user).filter(date__gte=start, date__lte=end)
    workloads = _workloads(rows)
    values = (
        rows.order_by("date", "endpoint_id", "model", "use_case_id", "team_id", "pk")
        .values(
            "date",
            "endpoint_id",
            "endpoint__name",
            "endpoint__kind",
            "endpoint__location",
            "vendor",
            "model",
            "use_case_id",
            "use_case__title",
            "team__name",
            "requests",
            "input_tokens",
            "output_tokens",
            "cost",
        )
        .iterator(chunk_size=CHUNK)
    )
    for row in values:
        yield _line(row, workloads)


def _line(row: dict[str, Any], workloads: dict[int, str]) -> list[Any]:
    day: date = row["date"]
    month = day.replace(day=1)
    cost = exports.money(exact(row["cost"]))
    tokens = (row["input_tokens"] or 0) + (row["output_tokens"] or 0)
    provider = row["vendor"] or "Unknown"
    name = row["endpoint__name"]
    model = row["model"]
    tags: dict[str, str] = {}
    if row["use_case_id"] is not None:
        tags["use_case"] = row["use_case__title"] or ""
        tags["use_case_id"] = str(row["use_case_id"])
        if row["use_case_id"] in workloads:
            tags["workload"] = workloads[row["use_case_id"]]
    if row["team__name"]:
        tags["team"] = row["team__name"]
    if model:
        description = f"{model} tokens on {name}"
    elif not tokens:
        description = f"Idle capacity of {name}"
    else:
        description = f"Tokens on {name}"
    return [
        cost,
        CURRENCY,
        _moment(month),
        _moment(add_months(month, 1)),
        "Usage",
        "",  # ChargeClass: empty for a charge that corrects nothing
        description,
        "Usage-Based",
        _moment(day),
        _moment(day + timedelta(days=1)),
        tokens,
        "Tokens",
        cost,
        cost,
        cost,
        provider,
        provider,
        f"endpoint/{row['endpoint_id']}",
        name,
        "Model serving endpoint",
        SERVICE_CATEGORY,
        _service_name(row["endpoint__kind"], row["endpoint__location"]),
        json.dumps(tags, sort_keys=True, ensure_ascii=False),
        model,
        row["requests"] or 0,
        row["input_tokens"] or 0,
        row["output_tokens"] or 0,
    ]


def focus_csv(*, user: User, start: date, end: date) -> Iterator[str]:
    """The CSV a line at a time (header first), formula-safe like every export."""
    return exports.csv_lines(COLUMNS, focus_rows(user=user, start=start, end=end))
