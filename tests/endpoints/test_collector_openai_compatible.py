"""OpenAI-compatible servers: nothing to collect, a probe, and the fake's chat API.

The chat tests pin down what tests/servers.py promises the playground's tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from apps.core.http import make_client
from apps.endpoints.collectors import get_collector
from tests.servers import FakeServer


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with make_client(allowed_networks=["127.0.0.0/8"], timeout=2.0) as client:
        yield client


def test_it_collects_nothing_and_calls_nobody(
    server: FakeServer, client: httpx.Client
) -> None:
    until = datetime(2025, 1, 1, tzinfo=UTC)
    readings = get_collector("openai_compatible").collect(
        client,
        base_url=server.url,
        api_key=None,
        since=until - timedelta(hours=1),
        until=until,
    )
    assert readings == []
    assert server.requests == []


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
def test_it_probes_the_model_list_with_or_without_v1(
    server: FakeServer, client: httpx.Client, suffix: str
) -> None:
    server.models = ["llama3.1:8b", "gemma3"]
    server.require_key = "ollama"
    report = get_collector("openai_compatible").probe(
        client, base_url=server.url + suffix, api_key="ollama"
    )
    assert report.ok
    assert report.models == ["gemma3", "llama3.1:8b"]
    assert server.requests[-1].path == "/v1/models"


def test_it_probes_without_raising_on_garbage(
    server: FakeServer, client: httpx.Client
) -> None:
    server.garbage("/v1/models")
    report = get_collector("openai_compatible").probe(
        client, base_url=server.url, api_key=None
    )
    assert not report.ok
    assert "JSON" in report.detail


def test_the_fake_server_answers_a_chat_completion_with_usage(
    server: FakeServer, client: httpx.Client
) -> None:
    server.chat_reply = "Paris is the capital."
    response = client.post(
        f"{server.url}/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "Capital of"}]},
    )
    body = response.json()
    assert body["choices"][0]["message"]["content"] == "Paris is the capital."
    assert body["usage"] == {
        "prompt_tokens": 2,
        "completion_tokens": 4,
        "total_tokens": 6,
    }


def test_the_fake_server_streams_sse_with_a_final_usage_chunk(
    server: FakeServer, client: httpx.Client
) -> None:
    server.chat_reply = "one two three"
    server.chunk_delay = 0.01
    events = []
    with client.stream(
        "POST",
        f"{server.url}/v1/chat/completions",
        json={
            "model": "m",
            "messages": [{"role": "user", "content": "count"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    ) as response:
        assert response.headers["content-type"] == "text/event-stream"
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(line.removeprefix("data: "))

    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    text = "".join(
        choice["delta"].get("content") or ""
        for chunk in chunks
        for choice in chunk["choices"]
    )
    assert text == "one two three"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 3


def test_the_fake_server_streams_without_usage_unless_asked(
    server: FakeServer, client: httpx.Client
) -> None:
    with client.stream(
        "POST",
        f"{server.url}/v1/chat/completions",
        json={"model": "m", "messages": [], "stream": True},
    ) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert all('"usage"' not in line for line in lines)
