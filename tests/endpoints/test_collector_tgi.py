"""The TGI collector: histogram sums as token totals, the model from /info."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx

from apps.core.http import make_client
from apps.endpoints.collectors import CollectorError, get_collector
from apps.endpoints.counters import counter_delta
from tests.servers import FakeServer, fixture_json, fixture_text

UNTIL = datetime(2025, 8, 1, 12, 0, tzinfo=UTC)
SINCE = UNTIL - timedelta(minutes=1)
BASE = "http://tgi.internal:8080"


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_client(allowed_networks=["127.0.0.0/8"], timeout=2.0) as client:
        yield client


def collect(client: httpx.Client, base_url: str) -> list:
    return get_collector("tgi").collect(
        client, base_url=base_url, api_key=None, since=SINCE, until=UNTIL
    )


def test_it_reads_totals_from_a_recorded_page() -> None:
    with respx.mock() as router, httpx.Client() as client:
        router.get(f"{BASE}/metrics").respond(text=fixture_text("tgi_metrics.txt"))
        router.get(f"{BASE}/info").respond(json=fixture_json("tgi_info.json"))
        [reading] = collect(client, BASE)

    assert reading.series == "tgi"
    assert reading.mode == "counter"
    assert reading.model == "bigscience/bloom-560m"
    assert (
        reading.requests == 1200
    )  # successes; the 3 validation failures carry no tokens
    assert reading.input_tokens == 12000
    assert reading.output_tokens == 50000


def test_it_still_collects_when_info_fails() -> None:
    with respx.mock() as router, httpx.Client() as client:
        router.get(f"{BASE}/metrics").respond(text=fixture_text("tgi_metrics.txt"))
        router.get(f"{BASE}/info").respond(status_code=500)
        [reading] = collect(client, BASE)
    assert reading.model == ""
    assert reading.output_tokens == 50000


def test_it_counts_no_requests_when_only_the_request_count_exists() -> None:
    # Every TGI with tgi_request_count also has tgi_request_success, which only
    # appears with the first success: the count alone is requests in flight or
    # failed, none completed.
    text = "# TYPE tgi_request_count counter\ntgi_request_count 7\n"
    with respx.mock() as router, httpx.Client() as client:
        router.get(f"{BASE}/metrics").respond(text=text)
        router.get(f"{BASE}/info").respond(json={"model_id": "m"})
        [reading] = collect(client, BASE)
    assert reading.requests == 0


def test_a_fresh_server_reads_as_zero_usage_for_its_model(
    server: FakeServer, client: httpx.Client
) -> None:
    server.set_tgi_text(
        model="tiiuae/falcon-7b", text=fixture_text("tgi_metrics_fresh.txt")
    )
    [reading] = collect(client, server.url)

    assert reading.series == "tgi"
    assert reading.model == "tiiuae/falcon-7b"
    assert reading.error == ""
    assert (reading.requests, reading.input_tokens, reading.output_tokens) == (0, 0, 0)


def test_testing_the_connection_of_a_fresh_server_succeeds(
    server: FakeServer, client: httpx.Client
) -> None:
    server.set_tgi_text(
        model="tiiuae/falcon-7b", text=fixture_text("tgi_metrics_fresh.txt")
    )
    report = get_collector("tgi").probe(client, base_url=server.url, api_key=None)

    assert report.ok
    assert report.models == ["tiiuae/falcon-7b"]
    assert report.detail == "TGI answers; it has served no requests yet (usage 0)."


def test_only_failed_requests_then_a_success_never_reads_as_a_reset(
    server: FakeServer, client: httpx.Client
) -> None:
    model = "bigscience/bloom-560m"
    pages = ["tgi_metrics_fresh.txt", "tgi_metrics_failures_only.txt"]
    pages.append("tgi_metrics_first_success.txt")
    readings = []
    for page in pages:
        server.set_tgi_text(model=model, text=fixture_text(page))
        readings += collect(client, server.url)
    fresh, failed, succeeded = readings

    # 2 validation failures record nothing; the failure during generation
    # recorded its 812 prompt tokens. Then one success: 45 in, 17 out.
    assert (failed.requests, failed.input_tokens, failed.output_tokens) == (0, 812, 0)
    assert (succeeded.requests, succeeded.input_tokens) == (1, 812 + 45)
    assert succeeded.output_tokens == 17
    for before, after in ((fresh, failed), (failed, succeeded)):
        for field in ("requests", "input_tokens", "output_tokens"):
            assert getattr(after, field) >= getattr(before, field), field
    assert counter_delta(failed.requests, succeeded.requests) == 1


def test_a_counter_that_cannot_count_refuses_the_reading_without_raising() -> None:
    text = "tgi_request_success 4\ntgi_request_input_length_sum -20\n"
    with respx.mock() as router, httpx.Client() as client:
        router.get(f"{BASE}/metrics").respond(text=text)
        router.get(f"{BASE}/info").respond(json={"model_id": "m"})
        [reading] = collect(client, BASE)
    assert reading.error == (
        "Refused tgi_request_input_length_sum is -20, a negative count."
    )
    assert (reading.requests, reading.input_tokens, reading.output_tokens) == (0, 0, 0)


def test_it_reads_a_live_server_between_scrapes(
    server: FakeServer, client: httpx.Client
) -> None:
    server.set_tgi(model="tiiuae/falcon-7b", requests=2, input_tokens=20)
    first = collect(client, server.url)[0]
    server.set_tgi(model="tiiuae/falcon-7b", requests=5, input_tokens=90)
    second = collect(client, server.url)[0]
    assert (first.requests, second.requests) == (2, 5)
    assert second.input_tokens - first.input_tokens == 70
    assert second.model == "tiiuae/falcon-7b"


def test_it_refuses_a_page_that_is_not_tgi(
    server: FakeServer, client: httpx.Client
) -> None:
    server.set_vllm(prompt_tokens=5)
    with pytest.raises(
        CollectorError, match="no TGI request metrics and /info did not answer"
    ):
        collect(client, server.url)


def test_it_raises_on_garbage_and_on_500(
    server: FakeServer, client: httpx.Client
) -> None:
    server.garbage("/metrics", body=b"tgi_request_count {{{\n")
    with pytest.raises(CollectorError):
        collect(client, server.url)
    server.fail("/metrics")
    with pytest.raises(CollectorError) as caught:
        collect(client, server.url)
    assert caught.value.transient


def test_it_probes_and_names_the_model(
    server: FakeServer, client: httpx.Client
) -> None:
    server.set_tgi(model="tiiuae/falcon-7b", requests=1)
    report = get_collector("tgi").probe(client, base_url=server.url, api_key=None)
    assert report.ok
    assert report.models == ["tiiuae/falcon-7b"]
