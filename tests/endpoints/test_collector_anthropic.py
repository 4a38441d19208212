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
    with respx.mock() as router:
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
    with respx.mock() as router, httpx.Client() as client:
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
    with respx.mock() as router, httpx.Client() as client:
        router.get(USAGE).respond(content=body)
        with pytest.raises(CollectorError, match=r"JSON|Unexpected response"):
            collect(client)


def test_it_probes_with_the_models_seen_recently() -> None:
    with respx.mock() as router, httpx.Client() as client:
        router.get(USAGE).respond(json=fixture_json("anthropic_usage_page1.json"))
        report = get_collector("anthropic").probe(client, base_url=BASE, api_key=KEY)
    assert report.ok
    assert report.models == [SONNET]
