"""LiteLLM proxy: daily spend and tokens from ``GET /user/daily/activity``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from apps.endpoints.collectors.base import (
    MAX_PAGES,
    BaseCollector,
    CollectorError,
    ProbeReport,
    Reading,
    api_root,
    bearer,
    check_window,
    get_bool,
    get_decimal,
    get_int,
    get_object,
    get_str,
    merge_readings,
    model_ids,
    require_key,
    series_name,
)

__all__ = ["LiteLLMCollector"]

DAY = timedelta(days=1)
PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class DailyModelSpend:
    """A day's spend and tokens for one model (and one key, when broken down)."""

    day: date
    model: str
    api_key_id: str | None
    spend: Decimal
    requests: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int


class LiteLLMCollector(BaseCollector):
    """Daily usage buckets per model and hashed API key, with LiteLLM's own spend.

    Uses ``/user/daily/activity`` (the replacement of ``/daily_metrics``) with
    the proxy admin key, paginating on ``metadata.has_more`` / ``total_pages``.
    Each model cell is either flat metrics (older proxies) or ``{metrics,
    api_key_breakdown}``; with a key breakdown, readings are per model and key.
    ``cost`` is LiteLLM's computed spend in USD.
    """

    kind = "litellm"
    mode = "bucket"
    lookback = timedelta(days=2)

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
        key = require_key(api_key, "A LiteLLM admin key")
        url = f"{api_root(base_url)}/user/daily/activity"
        first = since.astimezone(UTC).date()
        # end_date is inclusive; an ``until`` at midnight does not reach that day.
        last = (until.astimezone(UTC) - timedelta(microseconds=1)).date()
        rows: list[DailyModelSpend] = []
        page = 1
        while True:
            data = self.fetch_json(
                client,
                url,
                api_key=key,
                headers=bearer(key),
                params={
                    "start_date": first.isoformat(),
                    "end_date": last.isoformat(),
                    "page": page,
                    "page_size": PAGE_SIZE,
                },
            )
            rows.extend(_parse_page(data))
            if not _has_more(data, page):
                break
            page += 1
            if page > MAX_PAGES:
                raise CollectorError(f"{url} has more than {MAX_PAGES} pages.")
        return merge_readings(_reading(row) for row in rows)

    def _probe(
        self, client: httpx.Client, *, base_url: str, api_key: str | None
    ) -> ProbeReport:
        data = self.fetch_json(
            client,
            f"{api_root(base_url)}/v1/models",
            api_key=api_key,
            headers=bearer(api_key),
        )
        models = sorted(set(model_ids(data, "models")))
        return ProbeReport(
            ok=True, models=models, detail=f"LiteLLM lists {len(models)} models."
        )


def _parse_page(data: dict[str, Any]) -> list[DailyModelSpend]:
    results = data.get("results")
    if not isinstance(results, list):
        raise CollectorError("Unexpected response: results is not a list.")
    rows: list[DailyModelSpend] = []
    for index, result in enumerate(results):
        where = f"results[{index}]"
        if not isinstance(result, dict):
            raise CollectorError(f"Unexpected response: {where} is not an object.")
        day = _day(get_str(result, "date", where), where)
        breakdown = get_object(result, "breakdown", where)
        for model, cell in get_object(breakdown, "models", where).items():
            cell_where = f"{where}.breakdown.models[{model!r}]"
            if not isinstance(cell, dict):
                raise CollectorError(f"Unexpected response: {cell_where}.")
            keys = get_object(cell, "api_key_breakdown", cell_where)
            if keys:
                for key_hash, key_cell in keys.items():
                    if not isinstance(key_cell, dict):
                        raise CollectorError(f"Unexpected response: {cell_where}.")
                    rows.append(
                        _row(day, model, key_hash, key_cell, f"{cell_where}.keys")
                    )
            else:
                rows.append(_row(day, model, None, cell, cell_where))
    return rows


def _row(
    day: date, model: str, api_key_id: str | None, cell: dict[str, Any], where: str
) -> DailyModelSpend:
    # Newer proxies nest the numbers under "metrics"; older ones are flat.
    metrics = get_object(cell, "metrics", where) if "metrics" in cell else cell
    return DailyModelSpend(
        day=day,
        model=model,
        api_key_id=api_key_id,
        spend=get_decimal(metrics, "spend", where),
        requests=get_int(metrics, "api_requests", where),
        input_tokens=get_int(metrics, "prompt_tokens", where),
        output_tokens=get_int(metrics, "completion_tokens", where),
        cached_input_tokens=get_int(metrics, "cache_read_input_tokens", where),
    )


def _day(value: str | None, where: str) -> date:
    try:
        return date.fromisoformat((value or "")[:10])
    except ValueError:
        raise CollectorError(
            f"Unexpected response: {where}.date is not a date."
        ) from None


def _has_more(data: dict[str, Any], page: int) -> bool:
    metadata = get_object(data, "metadata", "metadata")
    if "has_more" in metadata:
        return get_bool(metadata, "has_more", "metadata")
    total_pages = get_int(metadata, "total_pages", "metadata")
    return page < total_pages


def _reading(row: DailyModelSpend) -> Reading:
    start = datetime(row.day.year, row.day.month, row.day.day, tzinfo=UTC)
    labels = {"model": row.model}
    if row.api_key_id is not None:
        labels["api_key_id"] = row.api_key_id
    return Reading(
        series=series_name("litellm", **labels),
        model=row.model,
        mode="bucket",
        requests=row.requests,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cached_input_tokens=row.cached_input_tokens,
        cost=row.spend,
        bucket_start=start,
        bucket_end=start + DAY,
        api_key_id=row.api_key_id,
    )
