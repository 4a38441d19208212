"""Anthropic: the Admin usage and cost analytics API, or the legacy reports."""

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
    get_list,
    get_object,
    get_str,
    get_timestamp,
    merge_readings,
    next_cursor,
    require_key,
    series_name,
)

__all__ = ["AnthropicCollector"]

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
API_VERSION = "2023-06-01"
#: The beta header the Usage and Cost Analytics API needs.
ANALYTICS_BETA = "analytics-usage-cost-2026-08-24"
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
    cache_write_tokens: int
    cache_write_1h_tokens: int
    output_tokens: int
    requests: int
    service_tier: str


@dataclass(frozen=True, slots=True)
class CostResult:
    """One row of ``cost_report`` within a daily bucket, in USD."""

    start: datetime
    end: datetime
    model: str | None
    workspace_id: str | None
    amount: Decimal


class AnthropicCollector(BaseCollector):
    """Hourly token buckets per model, workspace, API key and tier; daily costs.

    Reads the Usage and Cost Analytics API (``/v1/organizations/analytics/usage``
    and ``/analytics/cost``, beta header ``analytics-usage-cost-2026-08-24``),
    and falls back to the legacy reports (``/usage_report/messages`` and
    ``/cost_report``) where it answers 404. Both use ``x-api-key`` with an
    Admin key and give the same series, so a switch counts nothing twice.
    Input tokens are uncached + cache reads + both cache-creation kinds; 5-minute
    writes are ``cache_write_tokens``, 1-hour writes ``cache_write_1h_tokens``.
    The legacy report has no request count (``requests`` is 0). Cost amounts are
    cents, converted to dollars, summed per model and workspace per day, as
    ``measure="cost"`` readings. Workspaces play the role of projects.
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
        since = until - timedelta(days=7)
        try:
            results = self._analytics_usage(
                client, base_url, key, since, until, DAY, max_pages=1
            )
            detail = "Anthropic usage and cost analytics API answered."
        except CollectorError as exc:
            if exc.status_code != 404:
                raise
            results = self._legacy_usage(
                client, base_url, key, since, until, DAY, max_pages=1
            )
            detail = "Anthropic (legacy) usage report answered."
        models = sorted({r.model for r in results if r.model})
        return ProbeReport(ok=True, models=models, detail=detail)

    def _usage(
        self,
        client: httpx.Client,
        base_url: str,
        key: str,
        since: datetime,
        until: datetime,
        width: timedelta,
    ) -> list[UsageResult]:
        try:
            return self._analytics_usage(client, base_url, key, since, until, width)
        except CollectorError as exc:
            if exc.status_code != 404:
                raise
        return self._legacy_usage(client, base_url, key, since, until, width)

    def _costs(
        self,
        client: httpx.Client,
        base_url: str,
        key: str,
        since: datetime,
        until: datetime,
    ) -> list[CostResult]:
        try:
            return self._analytics_costs(client, base_url, key, since, until)
        except CollectorError as exc:
            if exc.status_code != 404:
                raise
        return self._legacy_costs(client, base_url, key, since, until)

    def _analytics_usage(
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
        url = f"{api_root(base_url)}/v1/organizations/analytics/usage"
        params: dict[str, Any] = {
            "starting_at": _rfc3339(floor_time(since, width)),
            "ending_at": _rfc3339(ceil_time(until, width)),
            "time_bucket_width": "1h" if width == HOUR else "1d",
            "group_by[]": ["model", "workspace_id", "api_key_id", "service_tier"],
        }
        results: list[UsageResult] = []
        for start, end, group, item, where in self._analytics_rows(
            client, url, key, params, max_pages
        ):
            # Token counts sit under "usage" (as "cost" does on cost rows); a
            # flat row is read as well.
            metrics = get_object(item, "usage", where) if "usage" in item else item
            results.append(_usage_result(start, end, group, metrics, where))
        return results

    def _analytics_costs(
        self,
        client: httpx.Client,
        base_url: str,
        key: str,
        since: datetime,
        until: datetime,
    ) -> list[CostResult]:
        url = f"{api_root(base_url)}/v1/organizations/analytics/cost"
        params: dict[str, Any] = {
            "starting_at": _rfc3339(floor_time(since, DAY)),
            "ending_at": _rfc3339(ceil_time(until, DAY)),
            "time_bucket_width": "1d",
            "group_by[]": ["model", "workspace_id"],
        }
        results: list[CostResult] = []
        for start, end, group, item, where in self._analytics_rows(
            client, url, key, params, None
        ):
            cost = get_object(item, "cost", where)
            results.append(
                CostResult(
                    start=start,
                    end=end,
                    model=get_str(group, "model", where),
                    workspace_id=get_str(group, "workspace_id", where),
                    amount=_dollars(cost, f"{where}.cost"),
                )
            )
        return results

    def _analytics_rows(
        self,
        client: httpx.Client,
        url: str,
        key: str,
        params: dict[str, Any],
        max_pages: int | None,
    ) -> list[tuple[datetime, datetime, dict[str, Any], dict[str, Any], str]]:
        """Every row of every page: ``{starting_at, ending_at, group, …}``."""
        rows = []
        cursors: list[str] = []
        headers = {
            "x-api-key": key,
            "anthropic-version": API_VERSION,
            "anthropic-beta": ANALYTICS_BETA,
        }
        while True:
            page_params = dict(params)
            if cursors:
                page_params["page"] = cursors[-1]
            page = self.fetch_json(
                client, url, api_key=key, headers=headers, params=page_params
            )
            for index, item in enumerate(get_list(page, "data", "page")):
                where = f"page.data[{index}]"
                if not isinstance(item, dict):
                    raise CollectorError(
                        f"Unexpected response: {where} is not an object."
                    )
                rows.append(
                    (
                        get_timestamp(item, "starting_at", where),
                        get_timestamp(item, "ending_at", where),
                        get_object(item, "group", where),
                        item,
                        where,
                    )
                )
            if max_pages is not None and len(cursors) + 1 >= max_pages:
                return rows
            # Pages end on has_more false, or on a null next_page without it.
            if "has_more" not in page and page.get("next_page") is not None:
                page = {**page, "has_more": True}
            cursor = next_cursor(page, "page", cursors)
            if cursor is None:
                return rows
            cursors.append(cursor)

    def _legacy_usage(
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
            "group_by[]": ["model", "workspace_id", "api_key_id", "service_tier"],
            "limit": 168 if width == HOUR else 31,
        }
        results: list[UsageResult] = []
        for start, end, items in self._buckets(client, url, key, params, max_pages):
            for index, item in enumerate(items):
                where = f"usage.results[{index}]"
                results.append(_usage_result(start, end, item, item, where))
        return results

    def _legacy_costs(
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
                        amount=_dollars(item, where),
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


def _usage_result(
    start: datetime,
    end: datetime,
    group: dict[str, Any],
    metrics: dict[str, Any],
    where: str,
) -> UsageResult:
    creation = get_object(metrics, "cache_creation", where)
    cache_read = get_int(metrics, "cache_read_input_tokens", where)
    write_5m = get_int(creation, "ephemeral_5m_input_tokens", where)
    write_1h = get_int(creation, "ephemeral_1h_input_tokens", where)
    return UsageResult(
        start=start,
        end=end,
        model=get_str(group, "model", where),
        workspace_id=get_str(group, "workspace_id", where),
        api_key_id=get_str(group, "api_key_id", where),
        input_tokens=get_int(metrics, "uncached_input_tokens", where)
        + cache_read
        + write_5m
        + write_1h,
        cached_input_tokens=cache_read,
        cache_write_tokens=write_5m,
        cache_write_1h_tokens=write_1h,
        output_tokens=get_int(metrics, "output_tokens", where),
        requests=get_int(metrics, "requests", where),
        service_tier=service_tier(get_str(group, "service_tier", where)),
    )


def service_tier(tier: str | None) -> str:
    """The portal's tier for Anthropic's: "" for standard, else batch/priority/flex."""
    tier = (tier or "").strip().lower()
    if tier in ("", "standard"):
        return ""
    for known in ("batch", "priority", "flex"):
        # "priority_on_demand", "flex_discount" … are priced as their family.
        if tier.startswith(known):
            return known
    return tier


def _dollars(data: dict[str, Any], where: str) -> Decimal:
    currency = (get_str(data, "currency", where) or "USD").upper()
    if currency != "USD":
        raise CollectorError(
            f"Anthropic costs are in {currency!r}; only USD is handled."
        )
    return get_decimal(data, "amount", where) / CENTS_PER_DOLLAR


def _usage_reading(result: UsageResult) -> Reading:
    labels: dict[str, str | None] = {
        "model": result.model,
        "workspace_id": result.workspace_id,
        "api_key_id": result.api_key_id,
    }
    # Only a non-standard tier is named, so standard series keep their names.
    if result.service_tier:
        labels["service_tier"] = result.service_tier
    return Reading(
        series=series_name("anthropic.usage", **labels),
        model=result.model or "",
        mode="bucket",
        requests=result.requests,
        input_tokens=result.input_tokens,
        cached_input_tokens=result.cached_input_tokens,
        cache_write_tokens=result.cache_write_tokens,
        cache_write_1h_tokens=result.cache_write_1h_tokens,
        service_tier=result.service_tier,
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
