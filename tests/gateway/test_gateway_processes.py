"""The gateway as deployed: separate uvicorn processes on one database.

Two processes share a key's limits through Redis; a process killed with SIGKILL
mid-stream loses only the request in flight, and the next flush (here, the
test's own) recovers its spool exactly once. The processes are real
subprocesses (``uvicorn portal.asgi:application``); the database is the live test
database (PostgreSQL) or a file copy of it (SQLite, see
:func:`tests.gateway.processes.shared_database`).
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai as openai_sdk
import pytest
import redis
from django.db.models import Sum

from apps.endpoints.models import UsageSample
from apps.endpoints.services import metering as writer
from apps.gateway import limits, metering
from apps.gateway.models import GatewayUsage
from tests.factories import ServingEndpointFactory, UseCaseFactory
from tests.gateway.processes import GatewayProcess, gateway_process, shared_database
from tests.gateway.test_gateway_runtime import approve, key_for, serve, target
from tests.servers import FakeServer

pytestmark = pytest.mark.django_db(transaction=True)

REDIS_URL = "redis://127.0.0.1:6379/9"  # a database of this module's own
#: Requests this close to the end of a limit window wait for the next one.
WINDOW_MARGIN = 15.0


def redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(autouse=True)
def _metering(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.ENDPOINT_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    settings.GATEWAY_SPOOL_DIR = str(tmp_path / "spool")
    settings.GATEWAY_FLUSH_INTERVAL = 3600
    settings.FIELD_ENCRYPTION_KEY = "ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMzI="
    _forget_own_spool()  # the spools here are the gateway processes' only
    yield
    _forget_own_spool()


def _forget_own_spool() -> None:
    writer.reset()


@pytest.fixture
def shared_redis() -> Iterator[str]:
    if not redis_reachable():
        pytest.skip("key limits across processes need Redis on 127.0.0.1:6379")
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture
def upstream() -> Iterator[FakeServer]:
    server = serve(["llama-3.1-8b"], "one two three four five six seven eight nine ten")
    yield server
    server.stop()


@pytest.fixture
def in_house(upstream: FakeServer):  # type: ignore[no-untyped-def]
    """A use-case approved to send classification to one in-house model."""
    endpoint = ServingEndpointFactory(
        base_url=upstream.url, served_models=["llama-3.1-8b"]
    )
    use_case = UseCaseFactory(workloads=[("classification", 100)])
    approve(
        use_case,
        [
            {
                "workload": "classification",
                "targets": [target(endpoint, "llama-3.1-8b")],
                "fallback": [],
            }
        ],
    )
    return use_case, endpoint


def sdk(gateway: GatewayProcess, secret: str) -> openai_sdk.OpenAI:
    return openai_sdk.OpenAI(
        base_url=f"{gateway.url}/gateway/v1",
        api_key=secret,
        max_retries=0,
        timeout=30,
    )


def chat_calls(server: FakeServer) -> int:
    return len([r for r in server.requests if r.path == "/v1/chat/completions"])


def away_from_a_window_edge() -> None:
    """Wait for the next limit window when the current one is about to end.

    The window is the one :mod:`apps.gateway.limits` counts in, so every request
    of the test falls in the same one.
    """
    left = limits.WINDOW - time.time() % limits.WINDOW
    if left < WINDOW_MARGIN:
        time.sleep(left + 0.5)


def test_key_limits_hold_across_two_gateway_processes(  # type: ignore[no-untyped-def]
    tmp_path, shared_redis, in_house, upstream
) -> None:
    """A key allowed N requests a minute gets exactly N through two processes
    sharing Redis, whichever process each request reaches; the refused ones
    never reach the upstream and are not metered."""
    use_case, _ = in_house
    allowed = 4
    secret = key_for(use_case, requests_per_minute=allowed)
    env = {"CACHE_URL": shared_redis, "GATEWAY_FLUSH_INTERVAL": "3600"}
    env["GATEWAY_SPOOL_DIR"] = str(tmp_path / "spool")
    ask = [{"role": "user", "content": "Sort this"}]
    with (
        shared_database(tmp_path) as database_url,
        gateway_process(tmp_path, name="a", database_url=database_url, **env) as a,
        gateway_process(tmp_path, name="b", database_url=database_url, **env) as b,
    ):
        clients = [sdk(a, secret), sdk(b, secret)]
        away_from_a_window_edge()
        outcomes = []
        for index in range(2 * allowed):
            try:
                clients[index % 2].chat.completions.create(
                    model="classification", messages=ask
                )
                outcomes.append(("ok", index % 2))
            except openai_sdk.RateLimitError as refused:
                outcomes.append((refused.code, index % 2))
        a.stop()
        b.stop()
        assert [outcome for outcome, _ in outcomes] == ["ok"] * allowed + [
            "rate_limit_exceeded"
        ] * allowed, outcomes
        # Both processes answered and both refused: the count is shared.
        assert {p for o, p in outcomes if o == "ok"} == {0, 1}
        assert {p for o, p in outcomes if o != "ok"} == {0, 1}
        assert chat_calls(upstream) == allowed
        # The stopped processes' spools: only the answered requests are metered.
        assert metering.flush_pending() == allowed
        assert GatewayUsage.objects.filter(use_case=use_case).count() == allowed


def test_metering_is_exact_across_a_sigkilled_gateway_process(  # type: ignore[no-untyped-def]
    tmp_path, in_house, upstream
) -> None:
    """Requests a killed process completed are metered exactly once, with the
    upstream's tokens, by a later flush elsewhere; the stream it was relaying
    when killed is lost; flushing again, or retrying a flush whose spool was
    already written, counts nothing twice."""
    use_case, endpoint = in_house
    secret = key_for(use_case)
    spool = tmp_path / "spool"
    env = {"GATEWAY_FLUSH_INTERVAL": "3600", "GATEWAY_SPOOL_DIR": str(spool)}
    completed: dict[str, tuple[int, int]] = {}
    with shared_database(tmp_path) as database_url:
        with gateway_process(
            tmp_path, name="killed", database_url=database_url, **env
        ) as gateway:
            client = sdk(gateway, secret)
            for words in (1, 3, 7):
                raw = client.chat.completions.with_raw_response.create(
                    model="classification",
                    messages=[{"role": "user", "content": " ".join(["w"] * words)}],
                )
                usage = raw.parse().usage
                assert usage is not None
                completed[raw.headers["x-request-id"]] = (
                    usage.prompt_tokens,
                    usage.completion_tokens,
                )
            for words in (2, 5):
                raw = client.chat.completions.with_raw_response.create(
                    model="classification",
                    messages=[{"role": "user", "content": " ".join(["s"] * words)}],
                    stream=True,
                    stream_options={"include_usage": True},
                )
                chunks = list(raw.parse())
                usage = chunks[-1].usage
                assert usage is not None
                completed[raw.headers["x-request-id"]] = (
                    usage.prompt_tokens,
                    usage.completion_tokens,
                )
            upstream.chunk_delay = 1.0  # ten words: the stream lasts ten seconds
            in_flight = relay_then_kill(gateway, secret)
        # The upstream counts a word a token: prompts of 1, 3, 7, 2 and 5
        # words, answers of ten.
        assert sorted(completed.values()) == [(n, 10) for n in (1, 2, 3, 5, 7)]
        assert_the_spool_of_the_killed_process_is_metered_once(
            spool, gateway, use_case, endpoint, completed, in_flight
        )
    assert chat_calls(upstream) == len(completed) + 1


def relay_then_kill(gateway: GatewayProcess, secret: str) -> str:
    """Start a stream, SIGKILL the process once a word reached the client; the
    stream's request id."""
    body = {
        "model": "classification",
        "messages": [{"role": "user", "content": "in flight"}],
        "stream": True,
    }
    with (
        httpx.Client(
            base_url=gateway.url,
            headers={"authorization": f"Bearer {secret}"},
            timeout=30,
        ) as http,
        http.stream("POST", "/gateway/v1/chat/completions", json=body) as stream,
    ):
        assert stream.status_code == 200
        for line in stream.iter_lines():
            if line.startswith("data: {") and json.loads(line[6:])["choices"][0][
                "delta"
            ].get("content"):
                break
        gateway.kill()
        assert gateway.process.returncode == -signal.SIGKILL
        return stream.headers["x-request-id"]


def assert_the_spool_of_the_killed_process_is_metered_once(  # type: ignore[no-untyped-def]
    spool: Path, gateway: GatewayProcess, use_case, endpoint, completed, in_flight
) -> None:
    assert not GatewayUsage.objects.exists()
    [left] = list(spool.glob(f"{gateway.pid}-*.jsonl"))
    written = left.read_bytes()

    flushed = metering.flush_pending()
    rows = GatewayUsage.objects.filter(use_case=use_case)
    # Under load the relay of the in-flight stream sometimes ends (and meters
    # what it relayed, marked estimated) a moment before the kill lands; it is
    # then counted once, like any other request. Completed ones are always exact.
    late = rows.filter(request_id=in_flight).first()
    assert flushed == len(completed) + (1 if late else 0)
    if late is not None:
        assert late.estimated
        completed = {
            **completed,
            in_flight: (late.input_tokens, late.output_tokens),
        }
    assert {
        row.request_id: (row.input_tokens, row.output_tokens) for row in rows
    } == completed
    assert not rows.exclude(request_id=in_flight).filter(estimated=True).exists()

    def ledger() -> tuple[object, ...]:
        totals = rows.aggregate(
            n=Sum("requests"), i=Sum("input_tokens"), o=Sum("output_tokens")
        )
        samples = UsageSample.objects.filter(
            endpoint=endpoint, use_case=use_case
        ).aggregate(n=Sum("requests"), i=Sum("input_tokens"), o=Sum("output_tokens"))
        return rows.count(), tuple(totals.values()), tuple(samples.values())

    after_first = ledger()
    assert after_first[0] == len(completed)
    assert after_first[2] == (
        len(completed),
        sum(i for i, _ in completed.values()),
        sum(o for _, o in completed.values()),
    )
    assert metering.flush_pending() == 0
    assert ledger() == after_first
    # A flush that wrote the rows but died before removing the spool file: the
    # next flush reads the same requests again and adds nothing.
    retried = spool / left.name
    retried.write_bytes(written)
    assert metering.flush_pending() == len(completed)
    assert not retried.exists()
    assert ledger() == after_first
