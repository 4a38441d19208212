"""The LiteLLM collector: daily activity per model and key, with spend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx

from apps.core.http import make_client
from apps.endpoints.collectors import CollectorError, ProbeReport, get_collector
from tests.servers import FakeServer, fixture_json

BASE = "http://litellm.internal:4000"
ACTIVITY = f"{BASE}/user/daily/activity"
KEY = "sk-litellm-master-1234"
SUPPORT_KEY = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"
SINCE = datetime(2025, 3, 27, 6, 0, tzinfo=UTC)
UNTIL = datetime(2025, 3, 29, 0, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


def collect(client: httpx.Client, base_url: str = BASE) -> list:
    return get_collector("litellm").collect(
        client, base_url=base_url, api_key=KEY, since=SINCE, until=UNTIL
    )


def test_it_reads_the_documented_flat_shape() -> None:
    with respx.mock() as router, httpx.Client() as client:
        router.get(ACTIVITY).respond(
            json=fixture_json("litellm_daily_activity_flat.json")
        )
        [reading] = collect(client)

    assert reading.series == "litellm|model=gpt-4o-mini"
    assert reading.model == "gpt-4o-mini"
    assert reading.mode == "bucket"
    assert reading.bucket_start == datetime(2025, 3, 27, tzinfo=UTC)
    assert reading.bucket_end == datetime(2025, 3, 28, tzinfo=UTC)
    assert (reading.requests, reading.input_tokens, reading.output_tokens) == (
        1,
        37,
        9,
    )
    assert reading.cost == Decimal("1.095e-05")


def test_it_reads_every_page_and_breaks_down_by_api_key() -> None:
    pages = {
        "1": fixture_json("litellm_daily_activity_page1.json"),
        "2": fixture_json("litellm_daily_activity_page2.json"),
    }
    with respx.mock() as router, httpx.Client() as client:
        route = router.get(ACTIVITY).mock(
            side_effect=lambda request: httpx.Response(
                200, json=pages[request.url.params["page"]]
            )
        )
        readings = collect(client)

    assert [call.request.url.params["page"] for call in route.calls] == ["1", "2"]
    params = route.calls[0].request.url.params
    assert (params["start_date"], params["end_date"]) == ("2025-03-27", "2025-03-28")
    assert route.calls[0].request.headers["authorization"] == f"Bearer {KEY}"

    by_series = {(r.series, r.bucket_start): r for r in readings}
    day1 = datetime(2025, 3, 27, tzinfo=UTC)
    llama_support = by_series[(f"litellm|api_key_id={SUPPORT_KEY}|model=llama3", day1)]
    assert llama_support.api_key_id == SUPPORT_KEY
    assert (llama_support.requests, llama_support.cached_input_tokens) == (6, 20)
    assert llama_support.cost == Decimal("0.0100000")
    day2 = by_series[("litellm|model=llama3", datetime(2025, 3, 28, tzinfo=UTC))]
    assert (day2.requests, day2.input_tokens, day2.output_tokens) == (3, 100, 1000)
    assert len(readings) == 4
    assert sum(r.cost or 0 for r in readings) == (
        Decimal("1.095e-05") + Decimal("0.01") + Decimal("0.0076962") + Decimal("0.01")
    )


def test_it_pages_on_total_pages_when_has_more_is_absent(server: FakeServer) -> None:
    first = fixture_json("litellm_daily_activity_page1.json")
    second = fixture_json("litellm_daily_activity_page2.json")
    for page in (first, second):
        del page["metadata"]["has_more"]
    server.json_pages("/user/daily/activity", [first, second])
    with make_client(allowed_networks=["127.0.0.0/8"], timeout=2.0) as client:
        readings = collect(client, base_url=server.url)
    assert len(readings) == 4
    assert [r.query["page"] for r in server.requests] == [["1"], ["2"]]


def test_it_raises_a_clear_error_on_garbage_and_500() -> None:
    with respx.mock() as router, httpx.Client() as client:
        router.get(ACTIVITY).respond(json={"results": "soon"})
        with pytest.raises(CollectorError, match="results is not a list"):
            collect(client)
    with respx.mock() as router, httpx.Client() as client:
        router.get(ACTIVITY).respond(status_code=500)
        with pytest.raises(CollectorError) as caught:
            collect(client)
    assert caught.value.transient


def test_it_raises_on_a_bad_date() -> None:
    body: dict[str, Any] = {"results": [{"date": "someday", "breakdown": {}}]}
    with respx.mock() as router, httpx.Client() as client:
        router.get(ACTIVITY).respond(json=body)
        with pytest.raises(CollectorError, match="date"):
            collect(client)


def probe(server: FakeServer) -> ProbeReport:
    with make_client(allowed_networks=["127.0.0.0/8"], timeout=2.0) as client:
        return get_collector("litellm").probe(client, base_url=server.url, api_key=KEY)


def test_it_probes_the_model_list(server: FakeServer) -> None:
    server.models = ["gpt-4o-mini", "llama3"]
    server.json("/user/info", fixture_json("litellm_user_info_admin.json"))
    server.json(
        "/user/daily/activity", fixture_json("litellm_daily_activity_flat.json")
    )
    report = probe(server)
    assert report.ok
    assert report.models == ["gpt-4o-mini", "llama3"]
    assert "all users" in report.detail


def test_probe_refuses_a_key_that_sees_only_its_own_users_spend(
    server: FakeServer,
) -> None:
    """LiteLLM filters /user/daily/activity to the caller's user for non-admins."""
    server.json("/user/info", fixture_json("litellm_user_info_internal_user.json"))
    server.json(
        "/user/daily/activity", fixture_json("litellm_daily_activity_flat.json")
    )
    report = probe(server)
    assert not report.ok
    assert "alice@example.com" in report.detail
    assert "'internal_user'" in report.detail
    assert "proxy admin key" in report.detail


def test_probe_accepts_a_proxy_admin_viewer(server: FakeServer) -> None:
    info = fixture_json("litellm_user_info_internal_user.json")
    info["user_info"]["user_role"] = "proxy_admin_viewer"
    server.json("/user/info", info)
    server.json(
        "/user/daily/activity", fixture_json("litellm_daily_activity_flat.json")
    )
    assert probe(server).ok


def test_probe_reports_a_proxy_without_its_database_as_a_setup_error(
    server: FakeServer,
) -> None:
    server.json("/user/info", fixture_json("litellm_user_info_admin.json"))
    server.json(
        "/user/daily/activity",
        fixture_json("litellm_db_not_connected.json"),
        status=500,
    )
    report = probe(server)
    assert not report.ok
    assert "no database" in report.detail
    assert "DB not connected" in report.detail


def test_collect_raises_a_non_transient_error_when_the_proxy_has_no_database(
    server: FakeServer,
) -> None:
    server.json(
        "/user/daily/activity",
        fixture_json("litellm_db_not_connected.json"),
        status=500,
    )
    with (
        make_client(allowed_networks=["127.0.0.0/8"], timeout=2.0) as client,
        pytest.raises(CollectorError) as caught,
    ):
        collect(client, base_url=server.url)
    assert not caught.value.transient
    assert caught.value.status_code == 500
    assert "DB not connected" in caught.value.message
    assert KEY not in caught.value.message


def test_collect_keeps_a_plain_500_transient(server: FakeServer) -> None:
    server.fail("/user/daily/activity")
    with (
        make_client(allowed_networks=["127.0.0.0/8"], timeout=2.0) as client,
        pytest.raises(CollectorError) as caught,
    ):
        collect(client, base_url=server.url)
    assert caught.value.transient


def test_it_reads_cache_reads_and_writes() -> None:
    with respx.mock() as router, httpx.Client() as client:
        router.get(ACTIVITY).respond(
            json=fixture_json("litellm_daily_activity_cache.json")
        )
        [reading] = collect(client)
    # prompt_tokens 12300 = 300 uncached + 9000 read from cache + 3000 written.
    assert (
        reading.input_tokens,
        reading.cached_input_tokens,
        reading.cache_write_tokens,
        reading.output_tokens,
        reading.requests,
    ) == (12300, 9000, 3000, 800, 4)
    assert reading.cost == Decimal("0.0421")
