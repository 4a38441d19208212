"""Anthropic: the Admin API usage report (messages) and cost report."""

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
    get_decimal,
    get_int,
    get_object,
    get_str,
    merge_readings,
    require_key,
    series_name,
)

__all__ = ["AnthropicCollector"]

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
API_VERSION = "2023-06-01"
#: Cost report amounts are decimal strings in cents.
CENTS_PER_DOLLAR = Decimal(100)


@dataclass(frozen=True, slots=True)
class UsageResult:
    """One row of ``usage_report/messages`` within a bucket."""

    start: datetime
    end: datetime
    model: str | None
    workspace_id: str | None
    api_key_id: str | None
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class CostResult:
    """One row of ``cost_report`` within a daily bucket, in USD."""

    start: datetime
    end: datetime
    model: str | None
    workspace_id: str | None
    amount: Decimal


class AnthropicCollector(BaseCollector):
    """Hourly token buckets per model, workspace and API key; daily billed costs.

    Reads the "legacy" Admin reports, ``/v1/organizations/usage_report/messages``
    and ``/v1/organizations/cost_report`` (``x-api-key`` with an ``sk-ant-admin``
    key). Input tokens are uncached + cache reads + both cache-creation kinds;
    the report has no request count, so ``requests`` is 0. Cost amounts are
    cents, converted to dollars, summed per model and workspace per day, and
    returned as ``measure="cost"`` readings. Workspaces play the role of
    projects. The newer Usage and Cost Analytics API (beta) would be another
    ``_usage`` / ``_costs`` pair behind this same class.
    """

    kind = "anthropic"
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
        key = require_key(api_key, "An Anthropic Admin key")
        usage = self._usage(client, base_url, key, since, until, self.usage_bucket)
        costs = self._costs(client, base_url, key, since, until)
        return merge_readings(
            [_usage_reading(result) for result in usage]
            + [_cost_reading(result) for result in costs]
        )

    def _probe(
        self, client: httpx.Client, *, base_url: str, api_key: str | None
    ) -> ProbeReport:
        key = require_key(api_key, "An Anthropic Admin key")
        until = floor_time(datetime.now(tz=UTC), DAY) + DAY
        results = self._usage(
            client, base_url, key, until - timedelta(days=7), until, DAY, max_pages=1
        )
        models = sorted({r.model for r in results if r.model})
        return ProbeReport(
            ok=True, models=models, detail="Anthropic usage report answered."
        )

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
        url = f"{api_root(base_url)}/v1/organizations/usage_report/messages"
        params: dict[str, Any] = {
            "starting_at": _rfc3339(floor_time(since, width)),
            "ending_at": _rfc3339(ceil_time(until, width)),
            "bucket_width": "1h" if width == HOUR else "1d",
            "group_by[]": ["model", "workspace_id", "api_key_id"],
            "limit": 168 if width == HOUR else 31,
        }
        results: list[UsageResult] = []
        for start, end, items in self._buckets(client, url, key, params, max_pages):
            for index, item in enumerate(items):
                where = f"usage.results[{index}]"
                creation = get_object(item, "cache_creation", where)
                cache_read = get_int(item, "cache_read_input_tokens", where)
                input_tokens = (
                    get_int(item, "uncached_input_tokens", where)
                    + cache_read
                    + get_int(creation, "ephemeral_1h_input_tokens", where)
                    + get_int(creation, "ephemeral_5m_input_tokens", where)
                )
                results.append(
                    UsageResult(
                        start=start,
                        end=end,
                        model=get_str(item, "model", where),
                        workspace_id=get_str(item, "workspace_id", where),
                        api_key_id=get_str(item, "api_key_id", where),
                        input_tokens=input_tokens,
                        cached_input_tokens=cache_read,
                        output_tokens=get_int(item, "output_tokens", where),
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
        url = f"{api_root(base_url)}/v1/organizations/cost_report"
        params: dict[str, Any] = {
            "starting_at": _rfc3339(floor_time(since, DAY)),
            "ending_at": _rfc3339(ceil_time(until, DAY)),
            "bucket_width": "1d",
            "group_by[]": ["workspace_id", "description"],
            "limit": 31,
        }
        results: list[CostResult] = []
        for start, end, items in self._buckets(client, url, key, params, None):
            for index, item in enumerate(items):
                where = f"cost.results[{index}]"
                currency = (get_str(item, "currency", where) or "USD").upper()
                if currency != "USD":
                    raise CollectorError(
                        f"Anthropic costs are in {currency!r}; only USD is handled."
                    )
                results.append(
                    CostResult(
                        start=start,
                        end=end,
                        model=get_str(item, "model", where),
                        workspace_id=get_str(item, "workspace_id", where),
                        amount=get_decimal(item, "amount", where) / CENTS_PER_DOLLAR,
                    )
                )
        return results

    def _buckets(
        self,
        client: httpx.Client,
        url: str,
        key: str,
        params: dict[str, Any],
        max_pages: int | None,
    ) -> list[tuple[datetime, datetime, list[dict[str, Any]]]]:
        return self.fetch_bucket_pages(
            client,
            url,
            api_key=key,
            headers={"x-api-key": key, "anthropic-version": API_VERSION},
            params=params,
            start_key="starting_at",
            end_key="ending_at",
            max_pages=max_pages,
        )


def _usage_reading(result: UsageResult) -> Reading:
    return Reading(
        series=series_name(
            "anthropic.usage",
            model=result.model,
            workspace_id=result.workspace_id,
            api_key_id=result.api_key_id,
        ),
        model=result.model or "",
        mode="bucket",
        input_tokens=result.input_tokens,
        cached_input_tokens=result.cached_input_tokens,
        output_tokens=result.output_tokens,
        bucket_start=result.start,
        bucket_end=result.end,
        project_id=result.workspace_id,
        api_key_id=result.api_key_id,
    )


def _cost_reading(result: CostResult) -> Reading:
    # Rows split by token type and description are summed per model here.
    return Reading(
        series=series_name(
            "anthropic.cost", model=result.model, workspace_id=result.workspace_id
        ),
        model=result.model or "",
        mode="bucket",
        measure="cost",
        cost=result.amount,
        bucket_start=result.start,
        bucket_end=result.end,
        project_id=result.workspace_id,
    )


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
