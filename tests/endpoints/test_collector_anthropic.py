"""The Anthropic collector: Admin usage report (messages) and cost report."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from apps.endpoints.collectors import CollectorError, get_collector
from tests.servers import fixture_json

BASE = "https://api.anthropic.com"
USAGE = f"{BASE}/v1/organizations/usage_report/messages"
COST = f"{BASE}/v1/organizations/cost_report"
ANALYTICS_USAGE = f"{BASE}/v1/organizations/analytics/usage"
ANALYTICS_COST = f"{BASE}/v1/organizations/analytics/cost"


def legacy_only(router: Any) -> None:
    """An organisation without the analytics API: it answers 404 there."""
    router.get(ANALYTICS_USAGE).respond(404, json={"type": "error"})
    router.get(ANALYTICS_COST).respond(404, json={"type": "error"})


KEY = "sk-ant-admin01-secret"
CURSOR = "page_MjAyNS0wNS0xNFQwMDowMDowMFo="
SINCE = datetime(2025, 8, 1, 0, 5, tzinfo=UTC)
UNTIL = datetime(2025, 8, 1, 2, 0, tzinfo=UTC)
SONNET = "claude-sonnet-4-20250514"
WORKSPACE = "wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ"


def paged(pages: dict[str | None, Any]) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[request.url.params.get("page")])

    return answer


@pytest.fixture
def router() -> Any:
    with respx.mock(assert_all_called=False) as router:
        router.get(USAGE).mock(
            side_effect=paged(
                {
                    None: fixture_json("anthropic_usage_page1.json"),
                    CURSOR: fixture_json("anthropic_usage_page2.json"),
                }
            )
        )
        router.get(COST).mock(
            side_effect=paged(
                {
                    None: fixture_json("anthropic_cost_page1.json"),
                    CURSOR: fixture_json("anthropic_cost_page2.json"),
                }
            )
        )
        legacy_only(router)
        yield router


def collect(client: httpx.Client, api_key: str | None = KEY) -> list:
    return get_collector("anthropic").collect(
        client, base_url=BASE, api_key=api_key, since=SINCE, until=UNTIL
    )


def test_it_reads_token_buckets_across_pages(router: Any) -> None:
    with httpx.Client() as client:
        usage = [r for r in collect(client) if r.measure == "usage"]

    sonnet, haiku = usage
    assert sonnet.model == SONNET
    assert sonnet.input_tokens == 1500 + 200 + 1000 + 500
    assert sonnet.cached_input_tokens == 200
    assert sonnet.output_tokens == 500
    assert sonnet.requests == 0  # the legacy report has no request count
    assert sonnet.project_id == WORKSPACE
    assert sonnet.api_key_id == "apikey_01Rj2N8SVvo6BePZj99NhmiT"
    assert sonnet.bucket_start == datetime(2025, 8, 1, 0, tzinfo=UTC)
    assert sonnet.bucket_end == datetime(2025, 8, 1, 1, tzinfo=UTC)
    assert haiku.model == "claude-3-5-haiku-20241022"
    assert (haiku.input_tokens, haiku.output_tokens) == (40, 12)
    assert haiku.project_id is None
    assert haiku.bucket_start == datetime(2025, 8, 1, 1, tzinfo=UTC)


def test_it_sends_the_admin_headers_and_grouping(router: Any) -> None:
    with httpx.Client() as client:
        collect(client)

    first, second = router.routes[0].calls
    request = first.request
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    assert request.url.params["starting_at"] == "2025-08-01T00:00:00Z"
    assert request.url.params["ending_at"] == "2025-08-01T02:00:00Z"
    assert request.url.params["bucket_width"] == "1h"
    assert request.url.params.get_list("group_by[]") == [
        "model",
        "workspace_id",
        "api_key_id",
        "service_tier",
    ]
    assert second.request.url.params["page"] == CURSOR


def test_it_converts_cents_to_dollars_and_sums_a_models_cost_rows(
    router: Any,
) -> None:
    with httpx.Client() as client:
        [cost] = [r for r in collect(client) if r.measure == "cost"]

    assert cost.cost == (Decimal("123.78912") + Decimal("750.5")) / 100
    assert cost.model == SONNET
    assert cost.project_id == WORKSPACE
    assert cost.bucket_start == datetime(2025, 8, 1, tzinfo=UTC)
    assert cost.bucket_end == datetime(2025, 8, 2, tzinfo=UTC)
    assert cost.input_tokens == cost.output_tokens == 0
    params = router.routes[1].calls[0].request.url.params
    assert params["bucket_width"] == "1d"
    assert params["starting_at"] == "2025-08-01T00:00:00Z"


def test_it_needs_an_admin_key() -> None:
    with httpx.Client() as client, pytest.raises(CollectorError, match="Admin key"):
        collect(client, api_key="")


def test_it_raises_a_transient_error_on_a_500() -> None:
    with respx.mock(assert_all_called=False) as router, httpx.Client() as client:
        legacy_only(router)
        router.get(USAGE).respond(status_code=529)
        with pytest.raises(CollectorError) as caught:
            collect(client)
    assert caught.value.transient
    assert caught.value.status_code == 529


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b'{"data": [{"starting_at": "yesterday", "ending_at": "x", "results": []}]}',
        b'{"data": [{"starting_at": "2025-08-01T00:00:00Z", "ending_at":'
        b' "2025-08-01T01:00:00Z", "results": [{"output_tokens": -4}]}]}',
        b'{"data": [], "has_more": true}',
    ],
)
def test_it_raises_a_clear_error_on_garbage(body: bytes) -> None:
    with respx.mock(assert_all_called=False) as router, httpx.Client() as client:
        legacy_only(router)
        router.get(USAGE).respond(content=body)
        with pytest.raises(CollectorError, match=r"JSON|Unexpected response"):
            collect(client)


def test_it_probes_with_the_models_seen_recently() -> None:
    with respx.mock(assert_all_called=False) as router, httpx.Client() as client:
        legacy_only(router)
        router.get(USAGE).respond(json=fixture_json("anthropic_usage_page1.json"))
        report = get_collector("anthropic").probe(client, base_url=BASE, api_key=KEY)
    assert report.ok
    assert report.models == [SONNET]


ANALYTICS_CURSOR = "page_MjAyNS0wOC0wMVQwMTowMDowMFo="


@pytest.fixture
def analytics() -> Any:
    with respx.mock(assert_all_called=False) as router:
        router.get(ANALYTICS_USAGE).mock(
            side_effect=paged(
                {
                    None: fixture_json("anthropic_analytics_usage_page1.json"),
                    ANALYTICS_CURSOR: fixture_json(
                        "anthropic_analytics_usage_page2.json"
                    ),
                }
            )
        )
        router.get(ANALYTICS_COST).respond(
            json=fixture_json("anthropic_analytics_cost.json")
        )
        legacy = [router.get(USAGE).respond(500), router.get(COST).respond(500)]
        yield router, legacy


def test_it_reads_the_analytics_api_first_with_its_beta_header(analytics: Any) -> None:
    router, legacy = analytics
    with httpx.Client() as client:
        readings = collect(client)

    assert not any(route.called for route in legacy)
    first, second = router.routes[0].calls
    assert first.request.headers["anthropic-beta"] == "analytics-usage-cost-2026-08-24"
    assert first.request.headers["x-api-key"] == KEY
    assert first.request.url.params["time_bucket_width"] == "1h"
    assert second.request.url.params["page"] == ANALYTICS_CURSOR
    usage = [r for r in readings if r.measure == "usage"]
    assert len(usage) == 3
    [cost] = [r for r in readings if r.measure == "cost"]
    assert cost.cost == Decimal("874.28912") / 100
    assert (cost.model, cost.project_id) == (SONNET, WORKSPACE)


def test_analytics_cache_writes_are_split_by_lifetime(analytics: Any) -> None:
    with httpx.Client() as client:
        usage = [r for r in collect(client) if r.measure == "usage"]
    standard = next(r for r in usage if r.model == SONNET and r.service_tier == "")
    # 1500 uncached + 200 read + 500 written for 5 minutes + 1000 for an hour.
    assert standard.input_tokens == 3200
    assert standard.cached_input_tokens == 200
    assert standard.cache_write_tokens == 500
    assert standard.cache_write_1h_tokens == 1000
    assert (standard.output_tokens, standard.requests) == (500, 7)


def test_analytics_batch_traffic_is_its_own_series(analytics: Any) -> None:
    with httpx.Client() as client:
        usage = [r for r in collect(client) if r.measure == "usage"]
    sonnet = [r for r in usage if r.model == SONNET]
    assert sorted(r.service_tier for r in sonnet) == ["", "batch"]
    batch = next(r for r in sonnet if r.service_tier == "batch")
    assert "|service_tier=batch|" in batch.series
    assert (batch.input_tokens, batch.output_tokens, batch.requests) == (3000, 900, 20)
    assert len({r.series for r in sonnet}) == 2


def test_analytics_and_legacy_give_the_same_series_for_standard_traffic(
    analytics: Any, router: Any
) -> None:
    """A switch between the two APIs re-polls the same buckets under one name."""
    with httpx.Client() as client:
        new = {r.series for r in collect(client) if r.measure == "usage"}
    legacy = (
        "anthropic.usage|api_key_id=apikey_01Rj2N8SVvo6BePZj99NhmiT"
        f"|model={SONNET}|workspace_id={WORKSPACE}"
    )
    assert legacy in new


def test_it_falls_back_to_the_legacy_reports_on_404(router: Any) -> None:
    with httpx.Client() as client:
        readings = collect(client)
    assert router.routes[0].called and router.routes[1].called
    assert len([r for r in readings if r.measure == "usage"]) == 2


def test_the_analytics_api_failing_otherwise_is_not_hidden_by_the_fallback() -> None:
    with respx.mock(assert_all_called=False) as router, httpx.Client() as client:
        router.get(ANALYTICS_USAGE).respond(503)
        legacy = router.get(USAGE).respond(
            json=fixture_json("anthropic_usage_page1.json")
        )
        with pytest.raises(CollectorError) as caught:
            collect(client)
    assert caught.value.transient
    assert not legacy.called


def test_probe_names_the_api_that_answered(analytics: Any) -> None:
    with httpx.Client() as client:
        report = get_collector("anthropic").probe(client, base_url=BASE, api_key=KEY)
    assert report.ok
    assert "analytics" in report.detail
    assert report.models == ["claude-sonnet-4-20250514"]
