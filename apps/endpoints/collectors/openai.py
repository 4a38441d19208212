"""OpenAI: the organisation Usage (completions) and Costs APIs (Admin key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from apps.endpoints.collectors.base import (
    BaseCollector,
    CollectorError,
    ProbeReport,
    Reading,
    api_root,
    ceil_time,
    check_window,
    floor_time,
    get_bool,
    get_decimal,
    get_int,
    get_object,
    get_str,
    merge_readings,
    require_key,
    series_name,
)

__all__ = ["OpenAICollector"]

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class UsageResult:
    """One ``organization.usage.completions.result`` within a bucket."""

    start: datetime
    end: datetime
    model: str | None
    project_id: str | None
    api_key_id: str | None
    requests: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    #: "" (default), "batch", "priority", "flex", …: see :func:`service_tier`.
    service_tier: str


@dataclass(frozen=True, slots=True)
class CostResult:
    """One ``organization.costs.result`` within a daily bucket, in USD."""

    start: datetime
    end: datetime
    project_id: str | None
    amount: Decimal


class OpenAICollector(BaseCollector):
    """Hourly usage buckets per model, project and API key, and daily billed costs.

    Usage comes from ``/v1/organization/usage/completions`` grouped by
    ``model``, ``project_id``, ``api_key_id``, ``batch`` and ``service_tier``;
    ``input_tokens`` includes the cached ones (``input_cached_tokens``) and the
    cache writes (``input_cache_write_tokens``). Batch and non-default tiers get
    their own series (``…|service_tier=batch``), so they are priced at their own
    rates and never overwrite the default tier's bucket. Costs from ``/v1/organization/costs`` (daily only, no model
    grouping) are ``measure="cost"`` readings per project, for reconciliation.
    Both follow ``has_more`` / ``next_page``. Needs an Admin key.
    """

    kind = "openai"
    mode = "bucket"
    lookback = timedelta(days=2)
    usage_bucket = HOUR

    def collect(
        self,
        client: httpx.Client,
        *,
        base_url: str,
        api_key: str | None,
        since: datetime,
        until: datetime,
    ) -> list[Reading]:
        check_window(since, until)
        if since >= until:
            return []
        key = require_key(api_key, "An OpenAI Admin key")
        usage = self._usage(client, base_url, key, since, until, self.usage_bucket)
        costs = self._costs(client, base_url, key, since, until)
        return merge_readings(
            [_usage_reading(result) for result in usage]
            + [_cost_reading(result) for result in costs]
        )

    def _probe(
        self, client: httpx.Client, *, base_url: str, api_key: str | None
    ) -> ProbeReport:
        key = require_key(api_key, "An OpenAI Admin key")
        until = floor_time(_now(), HOUR) + HOUR
        results = self._usage(
            client, base_url, key, until - timedelta(days=7), until, DAY, max_pages=1
        )
        models = sorted({r.model for r in results if r.model})
        return ProbeReport(ok=True, models=models, detail="OpenAI Usage API answered.")

    def _usage(
        self,
        client: httpx.Client,
        base_url: str,
        key: str,
        since: datetime,
        until: datetime,
        width: timedelta,
        *,
        max_pages: int | None = None,
    ) -> list[UsageResult]:
        url = f"{api_root(base_url)}/v1/organization/usage/completions"
        params: dict[str, Any] = {
            "start_time": int(floor_time(since, width).timestamp()),
            "end_time": int(ceil_time(until, width).timestamp()),
            "bucket_width": "1h" if width == HOUR else "1d",
            "group_by": ["model", "project_id", "api_key_id", "batch", "service_tier"],
            "limit": 168 if width == HOUR else 31,
        }
        results: list[UsageResult] = []
        for bucket in self._buckets(client, url, key, params, max_pages=max_pages):
            start, end, items = bucket
            for index, item in enumerate(items):
                where = f"usage.results[{index}]"
                results.append(
                    UsageResult(
                        start=start,
                        end=end,
                        model=get_str(item, "model", where),
                        project_id=get_str(item, "project_id", where),
                        api_key_id=get_str(item, "api_key_id", where),
                        requests=get_int(item, "num_model_requests", where),
                        input_tokens=get_int(item, "input_tokens", where),
                        output_tokens=get_int(item, "output_tokens", where),
                        cached_input_tokens=get_int(item, "input_cached_tokens", where),
                        cache_write_tokens=get_int(
                            item, "input_cache_write_tokens", where
                        ),
                        service_tier=service_tier(
                            batch=get_bool(item, "batch", where),
                            tier=get_str(item, "service_tier", where),
                        ),
                    )
                )
        return results

    def _costs(
        self,
        client: httpx.Client,
        base_url: str,
        key: str,
        since: datetime,
        until: datetime,
    ) -> list[CostResult]:
        url = f"{api_root(base_url)}/v1/organization/costs"
        params: dict[str, Any] = {
            "start_time": int(floor_time(since, DAY).timestamp()),
            "end_time": int(ceil_time(until, DAY).timestamp()),
            "bucket_width": "1d",
            "group_by": ["project_id"],
            "limit": 180,
        }
        results: list[CostResult] = []
        for start, end, items in self._buckets(client, url, key, params):
            for index, item in enumerate(items):
                where = f"costs.results[{index}]"
                amount = get_object(item, "amount", where)
                currency = (get_str(amount, "currency", where) or "usd").lower()
                if currency != "usd":
                    raise CollectorError(
                        f"OpenAI reported costs in {currency!r}; only USD is handled."
                    )
                results.append(
                    CostResult(
                        start=start,
                        end=end,
                        project_id=get_str(item, "project_id", where),
                        amount=get_decimal(amount, "value", f"{where}.amount"),
                    )
                )
        return results

    def _buckets(
        self,
        client: httpx.Client,
        url: str,
        key: str,
        params: dict[str, Any],
        max_pages: int | None = None,
    ) -> list[tuple[datetime, datetime, list[dict[str, Any]]]]:
        return self.fetch_bucket_pages(
            client,
            url,
            api_key=key,
            headers={"Authorization": f"Bearer {key}"},
            params=params,
            start_key="start_time",
            end_key="end_time",
            max_pages=max_pages,
        )


def service_tier(*, batch: bool, tier: str | None) -> str:
    """The portal's tier for a usage row: "batch" first, "" for the default.

    OpenAI reports ``service_tier`` as "default" (or "auto") for standard
    traffic; other values ("flex", "priority", …) are kept as given.
    """
    if batch:
        return "batch"
    tier = (tier or "").strip().lower()
    return "" if tier in ("", "default", "auto", "standard") else tier


def _usage_reading(result: UsageResult) -> Reading:
    labels: dict[str, str | None] = {
        "model": result.model,
        "project_id": result.project_id,
        "api_key_id": result.api_key_id,
    }
    # Only a non-default tier is named, so default series keep their old names
    # (a renamed series would count its re-polled buckets twice).
    if result.service_tier:
        labels["service_tier"] = result.service_tier
    return Reading(
        series=series_name("openai.usage", **labels),
        model=result.model or "",
        mode="bucket",
        requests=result.requests,
        input_tokens=result.input_tokens,
        output_tokens=result.output_tokens,
        cached_input_tokens=result.cached_input_tokens,
        cache_write_tokens=result.cache_write_tokens,
        service_tier=result.service_tier,
        bucket_start=result.start,
        bucket_end=result.end,
        project_id=result.project_id,
        api_key_id=result.api_key_id,
    )


def _cost_reading(result: CostResult) -> Reading:
    return Reading(
        series=series_name("openai.costs", project_id=result.project_id),
        model="",
        mode="bucket",
        measure="cost",
        cost=result.amount,
        bucket_start=result.start,
        bucket_end=result.end,
        project_id=result.project_id,
    )


def _now() -> datetime:
    return datetime.now(tz=UTC)
