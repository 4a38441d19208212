"""The vLLM collector, against a recorded /metrics page and a live fake server."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import respx

from apps.core.http import make_client
from apps.endpoints.collectors import CollectorError, get_collector
from apps.endpoints.counters import counter_delta
from tests.servers import FakeServer, fixture_text

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
UNTIL = datetime(2025, 8, 1, 12, 0, tzinfo=UTC)
SINCE = UNTIL - timedelta(minutes=1)
FAKE_VLLM_ARGS = ["--port", "0", "--rate", "0", "--token-delay", "0"]


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_client(allowed_networks=["127.0.0.0/8"], timeout=2.0) as client:
        yield client


def collect(client: httpx.Client, base_url: str, api_key: str | None = None) -> list:
    return get_collector("vllm").collect(
        client, base_url=base_url, api_key=api_key, since=SINCE, until=UNTIL
    )


def test_it_reads_counters_per_model_and_engine_from_a_recorded_page() -> None:
    with respx.mock() as router, httpx.Client() as client:
        router.get("http://vllm.internal:8000/metrics").respond(
            text=fixture_text("vllm_metrics.txt")
        )
        readings = collect(client, "http://vllm.internal:8000")

    by_engine = {r.series: r for r in readings}
    assert set(by_engine) == {
        f"vllm|engine=0|model={MODEL}",
        f"vllm|engine=1|model={MODEL}",
    }
    engine0 = by_engine[f"vllm|engine=0|model={MODEL}"]
    assert engine0.model == MODEL
    assert engine0.mode == "counter"
    assert engine0.bucket_start is None
    assert (engine0.input_tokens, engine0.output_tokens) == (81234, 27453)
    assert engine0.requests == 412 + 131  # completed: stop + length, not abort
    assert engine0.started_at == datetime.fromtimestamp(1.7305408e9, tz=UTC)
    assert engine0.cost is None
    assert sum(r.output_tokens for r in readings) == 27453 + 13002


def test_it_accepts_a_base_url_ending_in_v1() -> None:
    with respx.mock() as router, httpx.Client() as client:
        route = router.get("http://vllm.internal:8000/metrics").respond(
            text=fixture_text("vllm_metrics.txt")
        )
        collect(client, "http://vllm.internal:8000/v1/")
    assert route.called


def test_it_reads_growing_counters_and_survives_a_restart(
    server: FakeServer, client: httpx.Client
) -> None:
    server.set_vllm(model=MODEL, prompt_tokens=100, generation_tokens=40, requests=4)
    first = collect(client, server.url)[0]
    server.set_vllm(model=MODEL, prompt_tokens=160, generation_tokens=70, requests=6)
    second = collect(client, server.url)[0]
    server.set_vllm(
        model=MODEL,
        prompt_tokens=30,
        generation_tokens=10,
        requests=1,
        created=second.started_at.timestamp() + 60,  # type: ignore[union-attr]
    )
    third = collect(client, server.url)[0]

    assert first.series == second.series == third.series
    assert counter_delta(None, first.input_tokens) == 0
    assert counter_delta(first.input_tokens, second.input_tokens) == 60
    assert counter_delta(first.requests, second.requests) == 2
    assert third.started_at != second.started_at
    assert counter_delta(second.output_tokens, third.output_tokens) == 10


def test_it_sends_the_key_as_a_bearer_token(
    server: FakeServer, client: httpx.Client
) -> None:
    server.set_vllm(model=MODEL, prompt_tokens=1)
    server.require_key = "sk-vllm-secret"
    collect(client, server.url, api_key="sk-vllm-secret")
    assert server.requests[-1].headers["authorization"] == "Bearer sk-vllm-secret"


def test_it_reports_refused_credentials_without_leaking_the_key(
    server: FakeServer, client: httpx.Client
) -> None:
    server.set_vllm(model=MODEL, prompt_tokens=1)
    server.require_key = "the-right-key"
    with pytest.raises(CollectorError) as caught:
        collect(client, server.url, api_key="sk-wrong-key-1234")
    assert caught.value.status_code == 401
    assert not caught.value.transient
    assert "sk-wrong-key-1234" not in str(caught.value)


def test_it_raises_a_transient_error_on_a_500(
    server: FakeServer, client: httpx.Client
) -> None:
    server.fail("/metrics", status=500)
    with pytest.raises(CollectorError, match="HTTP 500") as caught:
        collect(client, server.url)
    assert caught.value.transient


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html><body>Welcome to nginx!</body></html>", "no vLLM usage counters"),
        (None, "did not return text"),
    ],
)
def test_it_raises_a_clear_error_on_a_garbage_body(
    server: FakeServer, client: httpx.Client, body: bytes | None, message: str
) -> None:
    server.garbage("/metrics", body=body)
    with pytest.raises(CollectorError, match=message) as caught:
        collect(client, server.url)
    assert not caught.value.transient


def test_it_refuses_only_the_series_with_a_non_numeric_value(
    server: FakeServer, client: httpx.Client
) -> None:
    server.garbage(
        "/metrics",
        body=(
            b'vllm:prompt_tokens_total{model_name="m",engine="0"} lots\n'
            b'vllm:prompt_tokens_total{model_name="n",engine="0"} 40.0\n'
            b'vllm:generation_tokens_total{model_name="n",engine="0"} 9.0\n'
        ),
    )
    bad, good = collect(client, server.url)

    assert bad.series == "vllm|engine=0|model=m"
    assert bad.error == (
        'Refused vllm:prompt_tokens_total{engine="0",model_name="m"} is '
        "'lots', not a number."
    )
    assert (bad.requests, bad.input_tokens, bad.output_tokens) == (0, 0, 0)
    assert good.series == "vllm|engine=0|model=n"
    assert good.error == ""
    assert (good.input_tokens, good.output_tokens) == (40, 9)


def test_it_refuses_negative_and_non_finite_series_one_by_one() -> None:
    with respx.mock() as router, httpx.Client() as client:
        router.get("http://vllm.internal:8000/metrics").respond(
            text=fixture_text("vllm_metrics_bad_values.txt")
        )
        readings = collect(client, "http://vllm.internal:8000")

    by_engine = {r.series.split("|")[1]: r for r in readings}
    assert by_engine["engine=1"].error == (
        f'Refused vllm:prompt_tokens_total{{engine="1",model_name="{MODEL}"}} '
        "is -3.0, a negative count."
    )
    assert by_engine["engine=2"].error == (
        f'Refused vllm:generation_tokens_total{{engine="2",model_name="{MODEL}"}} '
        "is NaN, not a finite count."
    )
    assert by_engine["engine=3"].error == (
        "Refused vllm:prompt_tokens_cached_total"
        f'{{engine="3",model_name="{MODEL}"}} is +Inf, not a finite count.'
    )
    for engine in ("engine=1", "engine=2", "engine=3"):
        refused = by_engine[engine]
        assert (refused.requests, refused.input_tokens, refused.output_tokens) == (
            0,
            0,
            0,
        )
    engine0 = by_engine["engine=0"]
    assert engine0.error == ""
    assert (engine0.input_tokens, engine0.cached_input_tokens) == (7000, 3000)
    assert engine0.output_tokens == 2100
    assert engine0.requests == 50 + 2  # stop + repetition; error is no completion


def test_it_reads_cached_prompt_tokens_and_completed_requests_per_engine() -> None:
    model = "Qwen/Qwen3-30B-A3B-Instruct-2507"
    with respx.mock() as router, httpx.Client() as client:
        router.get("http://vllm.internal:8000/metrics").respond(
            text=fixture_text("vllm_metrics_dp4.txt")
        )
        readings = collect(client, "http://vllm.internal:8000")

    assert [r.series for r in readings] == [
        f"vllm|engine={n}|model={model}" for n in range(4)
    ]
    for n, reading in enumerate(readings, start=1):
        assert reading.input_tokens == 1_000_000 * n + 1234
        assert reading.cached_input_tokens == 400_000 * n
        assert reading.output_tokens == 250_000 * n + 56
        # stop 900n + length 100n + repetition 2; abort 7 and error 1 left out
        assert reading.requests == 900 * n + 100 * n + 2
        assert reading.started_at == datetime(2025, 8, 1, 8, 0, tzinfo=UTC)
        assert reading.error == ""


def test_it_reads_a_multiprocess_page_that_has_no_created_times() -> None:
    with respx.mock() as router, httpx.Client() as client:
        router.get("http://vllm.internal:8000/metrics").respond(
            text=fixture_text("vllm_metrics_multiproc.txt")
        )
        engine0, engine1 = collect(client, "http://vllm.internal:8000")

    assert (engine0.started_at, engine1.started_at) == (None, None)
    assert (engine0.input_tokens, engine0.cached_input_tokens) == (5000, 1200)
    assert (engine1.input_tokens, engine1.cached_input_tokens) == (10000, 2400)
    assert (engine0.requests, engine1.requests) == (30 + 4, 60 + 8)


def test_a_fetch_that_trickles_its_body_stops_at_the_deadline(
    server: FakeServer,
) -> None:
    body = b"vllm:prompt_tokens_total 1.0\n" * 2  # 58 bytes, 29 s at this pace
    server.trickle("/metrics", body=body, interval=0.5)
    # Each read may take 1 s; the whole fetch 2 x 1 s.
    with (
        make_client(allowed_networks=["127.0.0.0/8"], timeout=1.0) as client,
        pytest.raises(CollectorError) as caught,
    ):
        collect(client, server.url)

    assert caught.value.message == (f"{server.url}/metrics did not answer within 2 s.")
    assert caught.value.transient
    assert server.trickled < len(body)


def test_it_raises_a_transient_error_when_the_server_hangs(server: FakeServer) -> None:
    server.hang("/metrics", seconds=5)
    with (
        make_client(allowed_networks=["127.0.0.0/8"], timeout=0.2) as client,
        pytest.raises(CollectorError, match="timed out") as caught,
    ):
        collect(client, server.url)
    assert caught.value.transient


def test_it_does_not_follow_redirects(server: FakeServer, client: httpx.Client) -> None:
    server.redirect("/metrics", location="http://169.254.169.254/metrics")
    with pytest.raises(CollectorError, match="redirected"):
        collect(client, server.url)
    assert len(server.requests) == 1


def test_it_reports_a_refused_address_as_a_collector_error() -> None:
    with (
        make_client(allowed_networks=[], timeout=1.0) as client,
        pytest.raises(CollectorError, match="not allowed") as caught,
    ):
        collect(client, "http://169.254.169.254")
    assert not caught.value.transient


def test_it_probes_a_live_server_and_lists_its_models(
    server: FakeServer, client: httpx.Client
) -> None:
    server.set_vllm(model=MODEL, prompt_tokens=5)
    report = get_collector("vllm").probe(client, base_url=server.url, api_key=None)
    assert report.ok
    assert MODEL in report.models


def test_it_probes_without_raising_when_the_server_fails(
    server: FakeServer, client: httpx.Client
) -> None:
    server.fail(None, status=503)
    report = get_collector("vllm").probe(client, base_url=server.url, api_key=None)
    assert not report.ok
    assert "HTTP 503" in report.detail


def test_it_collects_from_the_demo_fake_vllm_script(client: httpx.Client) -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "fake_vllm.py"
    process = subprocess.Popen(
        [sys.executable, str(script), *FAKE_VLLM_ARGS, "--model", MODEL],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", banner)
        assert url, banner
        base = url.group(0)
        before = collect(client, base)[0]
        response = client.post(
            f"{base}/v1/chat/completions",
            json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
        )
        usage = response.json()["usage"]
        after = collect(client, base)[0]
    finally:
        process.terminate()
        process.wait(timeout=5)

    assert before.series == after.series == f"vllm|engine=0|model={MODEL}"
    assert counter_delta(before.requests, after.requests) == 1
    assert (
        counter_delta(before.input_tokens, after.input_tokens) == usage["prompt_tokens"]
    )
    assert (
        counter_delta(before.output_tokens, after.output_tokens)
        == usage["completion_tokens"]
    )
