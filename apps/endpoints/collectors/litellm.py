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
    error_message,
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
#: Roles whose keys see every user's spend (LiteLLM's ``_user_has_admin_view``);
#: any other key sees only its own user's.
ADMIN_ROLES = frozenset({"proxy_admin", "proxy_admin_viewer"})
#: What a proxy without its database says: "DB not connected. …" on the spend
#: endpoints, "Database not connected. …" on ``/user/info``.
NO_DATABASE = "not connected"


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
    cache_write_tokens: int


class LiteLLMCollector(BaseCollector):
    """Daily usage buckets per model and hashed API key, with LiteLLM's own spend.

    Uses ``/user/daily/activity`` (the replacement of ``/daily_metrics``) with
    the proxy admin key, paginating on ``metadata.has_more`` / ``total_pages``.
    Each model cell is either flat metrics (older proxies) or ``{metrics,
    api_key_breakdown}``; with a key breakdown, readings are per model and key.
    ``cost`` is LiteLLM's computed spend in USD. ``prompt_tokens`` already counts
    cache reads and writes, which are also reported as ``cache_read_input_tokens``
    and ``cache_creation_input_tokens``.

    "Test connection" checks the key's role with ``/user/info``: a key that is
    not a proxy admin sees only its own user's spend, so it fails the probe. A
    proxy without its database answers 500 "DB not connected"; that is a setup
    error, reported as such and not retried as a passing fault.
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
            data = self._get(
                client,
                url,
                key,
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
        key = require_key(api_key, "A LiteLLM admin key")
        root = api_root(base_url)
        data = self._get(client, f"{root}/v1/models", key)
        models = sorted(set(model_ids(data, "models")))
        try:
            role, user = _role(self._get(client, f"{root}/user/info", key))
        except CollectorError as exc:
            if exc.status_code != 404:
                raise
            # Proxies older than /user/info: the role cannot be checked.
            role, user = None, None
        if role is not None and role not in ADMIN_ROLES:
            return ProbeReport(
                ok=False,
                models=models,
                detail=(
                    f"This key belongs to LiteLLM user {user!r} with role {role!r}: "
                    "LiteLLM shows such a key only its own user's spend, so usage "
                    "of every other user and key would be missing. Use a proxy "
                    "admin key (role proxy_admin or proxy_admin_viewer)."
                ),
            )
        # Reading one day proves the spend tables answer (a proxy without its
        # database lists models but has no spend).
        today = datetime.now(tz=UTC).date().isoformat()
        self._get(
            client,
            f"{root}/user/daily/activity",
            key,
            params={"start_date": today, "end_date": today, "page": 1, "page_size": 1},
        )
        detail = f"LiteLLM lists {len(models)} models; the key sees all users' spend."
        if role is None:
            detail = (
                f"LiteLLM lists {len(models)} models. This proxy has no /user/info, "
                "so the key's role is unchecked: use a proxy admin key, or only "
                "its own user's spend is collected."
            )
        return ProbeReport(ok=True, models=models, detail=detail)

    def _get(
        self,
        client: httpx.Client,
        url: str,
        key: str,
        *,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``fetch_json``, telling a proxy without its database from a passing 500."""
        try:
            return self.fetch_json(
                client, url, api_key=key, headers=bearer(key), params=params
            )
        except CollectorError as exc:
            if exc.status_code != 500:
                raise
            reason = error_message(
                client, url, api_key=key, headers=bearer(key), params=params
            )
            if NO_DATABASE not in reason.lower():
                raise
            raise CollectorError(
                f"LiteLLM has no database, so it keeps no spend; connect one "
                f"(DATABASE_URL) to the proxy. It said: {reason}",
                status_code=500,
                transient=False,
            ) from None


def _role(info: dict[str, Any]) -> tuple[str | None, str | None]:
    """The calling key's user role and user id from ``GET /user/info``."""
    user_info = get_object(info, "user_info", "user/info")
    user = get_str(info, "user_id", "user/info")
    # A proxy admin gets every team and key instead, with no user row.
    if user is None and not user_info and "keys" in info:
        return "proxy_admin", None
    role = get_str(user_info, "user_role", "user/info.user_info")
    return (role or "unknown"), user


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
        cache_write_tokens=get_int(metrics, "cache_creation_input_tokens", where),
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
        cache_write_tokens=row.cache_write_tokens,
        cost=row.spend,
        bucket_start=start,
        bucket_end=start + DAY,
        api_key_id=row.api_key_id,
    )
