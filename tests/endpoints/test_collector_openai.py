"""The OpenAI collector: organisation usage and costs, paginated."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from apps.endpoints.collectors import CollectorError, get_collector
from tests.servers import fixture_json

BASE = "https://api.openai.com"
USAGE = f"{BASE}/v1/organization/usage/completions"
COSTS = f"{BASE}/v1/organization/costs"
KEY = "sk-admin-0123456789abcdef"
SINCE = datetime(2024, 11, 1, 0, 20, tzinfo=UTC)
UNTIL = datetime(2024, 11, 1, 2, 30, tzinfo=UTC)


def paged(pages: dict[str | None, Any]) -> Any:
    """A respx side effect answering the page its ``page`` parameter names."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("page")])

    return answer


def collect(client: httpx.Client, api_key: str | None = KEY) -> list:
    return get_collector("openai").collect(
        client, base_url=BASE, api_key=api_key, since=SINCE, until=UNTIL
    )


@pytest.fixture
def router() -> Any:
    with respx.mock() as router:
        router.get(USAGE).mock(
            side_effect=paged(
                {
                    None: fixture_json("openai_usage_page1.json"),
                    "AAAAAGdGxdEiJdKOAAAAAGcqsYA=": fixture_json(
                        "openai_usage_page2.json"
                    ),
                }
            )
        )
        router.get(COSTS).respond(json=fixture_json("openai_costs.json"))
        yield router


def test_it_reads_usage_buckets_across_pages(router: Any) -> None:
    with httpx.Client() as client:
        readings = [r for r in collect(client) if r.measure == "usage"]

    assert len(readings) == 3
    assert {r.mode for r in readings} == {"bucket"}
    assert {r.model for r in readings} == {
        "gpt-4o-2024-08-06",
        "gpt-4o-mini-2024-07-18",
    }
    mini = [r for r in readings if r.model == "gpt-4o-mini-2024-07-18"]
    assert [r.bucket_start for r in mini] == [
        datetime(2024, 11, 1, 0, tzinfo=UTC),
        datetime(2024, 11, 1, 1, tzinfo=UTC),
    ]
    assert mini[0].bucket_end == datetime(2024, 11, 1, 1, tzinfo=UTC)
    assert (mini[0].requests, mini[0].input_tokens, mini[0].output_tokens) == (
        5,
        1000,
        500,
    )
    assert mini[0].cached_input_tokens == 800
    assert mini[0].project_id == "proj_abc"
    assert mini[0].api_key_id == "key_123"
    assert mini[0].cost is None
    assert mini[0].series == (
        "openai.usage|api_key_id=key_123|model=gpt-4o-mini-2024-07-18"
        "|project_id=proj_abc"
    )


def test_it_asks_for_aligned_hourly_buckets_grouped_for_attribution(
    router: Any,
) -> None:
    with httpx.Client() as client:
        collect(client)

    first, second = router.routes[0].calls
    params = first.request.url.params
    assert params["start_time"] == str(
        int(datetime(2024, 11, 1, tzinfo=UTC).timestamp())
    )
    assert params["end_time"] == str(
        int(datetime(2024, 11, 1, 3, tzinfo=UTC).timestamp())
    )
    assert params["bucket_width"] == "1h"
    assert params.get_list("group_by") == [
        "model",
        "project_id",
        "api_key_id",
        "batch",
        "service_tier",
    ]
    assert "page" not in params
    assert second.request.url.params["page"] == "AAAAAGdGxdEiJdKOAAAAAGcqsYA="
    assert first.request.headers["authorization"] == f"Bearer {KEY}"


def test_it_reads_billed_costs_per_project_as_cost_readings(router: Any) -> None:
    with httpx.Client() as client:
        costs = [r for r in collect(client) if r.measure == "cost"]

    assert {r.project_id: r.cost for r in costs} == {
        "proj_abc": Decimal("0.06"),
        None: Decimal("1.2345678901"),
    }
    assert all(r.input_tokens == r.requests == 0 for r in costs)
    assert costs[0].bucket_start == datetime(2024, 11, 1, tzinfo=UTC)
    assert costs[0].bucket_end == datetime(2024, 11, 2, tzinfo=UTC)
    params = router.routes[1].calls[0].request.url.params
    assert params["bucket_width"] == "1d"


def test_it_returns_each_bucket_key_once(router: Any) -> None:
    with httpx.Client() as client:
        readings = collect(client)
    keys = [r.key for r in readings]
    assert len(keys) == len(set(keys))


def test_it_gives_the_same_keys_when_polled_again_later(router: Any) -> None:
    with httpx.Client() as client:
        first = collect(client)
        again = get_collector("openai").collect(
            client,
            base_url=BASE,
            api_key=KEY,
            since=SINCE.replace(minute=45),
            until=UNTIL.replace(minute=50),
        )
    assert [r.key for r in first] == [r.key for r in again]


def test_it_needs_an_admin_key() -> None:
    with httpx.Client() as client, pytest.raises(CollectorError, match="Admin key"):
        collect(client, api_key=None)


def test_it_reports_a_rejected_key_without_leaking_it() -> None:
    with respx.mock() as router, httpx.Client() as client:
        router.get(USAGE).respond(
            status_code=401,
            json={"error": {"message": f"Incorrect API key provided: {KEY}"}},
        )
        with pytest.raises(CollectorError) as caught:
            collect(client)
    assert caught.value.status_code == 401
    assert KEY not in caught.value.message
    assert KEY not in str(caught.value)


def test_it_raises_a_transient_error_on_500_and_429() -> None:
    for status in (500, 429):
        with respx.mock() as router, httpx.Client() as client:
            router.get(USAGE).respond(status_code=status, headers={"retry-after": "7"})
            with pytest.raises(CollectorError) as caught:
                collect(client)
        assert caught.value.transient
        assert caught.value.retry_after == 7.0


@pytest.mark.parametrize(
    "body",
    [
        b"<html>Bad gateway</html>",
        b"[1, 2, 3]",
        b'{"data": [{"start_time": "soon", "end_time": 1, "results": []}]}',
        b'{"data": [{"start_time": 1, "end_time": 2, "results": [{"input_tokens":'
        b' "many"}]}]}',
        b'{"data": "nope"}',
    ],
)
def test_it_raises_a_clear_error_on_garbage(body: bytes) -> None:
    with respx.mock() as router, httpx.Client() as client:
        router.get(USAGE).respond(content=body)
        with pytest.raises(CollectorError) as caught:
            collect(client)
    assert not caught.value.transient


def test_it_stops_on_a_cursor_that_repeats() -> None:
    looping = {
        "object": "page",
        "data": [],
        "has_more": True,
        "next_page": "same",
    }
    with respx.mock() as router, httpx.Client() as client:
        router.get(USAGE).respond(json=looping)
        with pytest.raises(CollectorError, match="repeats"):
            collect(client)


def test_it_refuses_costs_in_another_currency() -> None:
    costs = fixture_json("openai_costs.json")
    costs["data"][0]["results"][0]["amount"]["currency"] = "eur"
    with respx.mock() as router, httpx.Client() as client:
        router.get(USAGE).respond(json={"data": [], "has_more": False})
        router.get(COSTS).respond(json=costs)
        with pytest.raises(CollectorError, match="USD"):
            collect(client)


def test_it_probes_with_the_models_seen_recently() -> None:
    with respx.mock() as router, httpx.Client() as client:
        router.get(USAGE).respond(json=fixture_json("openai_usage_page1.json"))
        report = get_collector("openai").probe(client, base_url=BASE, api_key=KEY)
    assert report.ok
    assert report.models == ["gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18"]


def test_it_probes_without_raising_when_the_key_is_refused() -> None:
    with respx.mock() as router, httpx.Client() as client:
        router.get(USAGE).respond(status_code=403)
        report = get_collector("openai").probe(client, base_url=BASE, api_key=KEY)
    assert not report.ok
    assert "403" in report.detail


def test_batch_and_each_service_tier_get_their_own_series_in_one_bucket() -> None:
    """Four rows of one model, project, key and hour: none overwrites another."""
    with respx.mock() as router, httpx.Client() as client:
        router.get(USAGE).respond(json=fixture_json("openai_usage_tiers.json"))
        router.get(COSTS).respond(json=fixture_json("openai_costs.json"))
        readings = [r for r in collect(client) if r.measure == "usage"]

    base = "openai.usage|api_key_id=key_123|model=gpt-5-2025-08-07|project_id=proj_abc"
    by_series = {r.series: r for r in readings}
    assert set(by_series) == {
        base,
        f"{base}|service_tier=batch",
        f"{base}|service_tier=flex",
        f"{base}|service_tier=priority",
    }
    assert [by_series[s].service_tier for s in sorted(by_series)] == [
        "",
        "batch",
        "flex",
        "priority",
    ]
    batch = by_series[f"{base}|service_tier=batch"]
    assert (batch.requests, batch.input_tokens, batch.output_tokens) == (
        200,
        40000,
        12000,
    )
    assert {r.bucket_start for r in readings} == {
        datetime(2024, 11, 1, 0, 0, tzinfo=UTC)
    }
    # The four rows' totals survive: 1000 + 40000 + 700 + 250 input tokens.
    assert sum(r.input_tokens for r in readings) == 41950


def test_it_reads_cache_writes_apart_from_cache_reads() -> None:
    with respx.mock() as router, httpx.Client() as client:
        router.get(USAGE).respond(json=fixture_json("openai_usage_tiers.json"))
        router.get(COSTS).respond(json=fixture_json("openai_costs.json"))
        readings = [r for r in collect(client) if r.measure == "usage"]

    default = next(r for r in readings if r.service_tier == "")
    assert (
        default.input_tokens,
        default.cached_input_tokens,
        default.cache_write_tokens,
    ) == (1000, 600, 300)
    priority = next(r for r in readings if r.service_tier == "priority")
    assert (priority.cached_input_tokens, priority.cache_write_tokens) == (100, 50)


def test_default_tier_series_keep_the_names_they_had_before_tiers() -> None:
    """Rows of the older fixtures (batch null, no service_tier) name no tier."""
    with respx.mock() as router, httpx.Client() as client:
        router.get(USAGE).respond(json=fixture_json("openai_usage_page2.json"))
        router.get(COSTS).respond(json=fixture_json("openai_costs.json"))
        readings = [r for r in collect(client) if r.measure == "usage"]
    assert readings
    assert all("service_tier" not in r.series for r in readings)
    assert all(r.service_tier == "" for r in readings)
