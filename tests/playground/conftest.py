"""Loopback model servers, endpoints on them, and a reader of the playground's stream."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.test import AsyncClient
from django.urls import reverse

from apps.catalogue.models import CatalogModel
from apps.endpoints.models import ServingEndpoint
from apps.endpoints.services import metering
from apps.playground import snapshot
from tests.factories import ServingEndpointFactory
from tests.servers import FakeServer, RecordedRequest, Reply

LOCAL_MODEL = "meta-llama/Llama-3.1-8B-Instruct"
BIG_MODEL = "meta-llama/Llama-3.1-70B-Instruct"
EXTERNAL_MODEL = "gpt-4o-mini"
CLAUDE_MODEL = "claude-sonnet-4-5"


@pytest.fixture(autouse=True)
def _playground_settings(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.ENDPOINT_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    settings.PLAYGROUND_READ_TIMEOUT_SECONDS = 5.0
    settings.PLAYGROUND_TOTAL_TIMEOUT_SECONDS = 20.0
    # Usage goes through the ledger's writer: a spool of this test's own, flushed
    # when the test says (``flush_usage``), never by the background thread.
    settings.GATEWAY_SPOOL_DIR = str(tmp_path / "spool")
    settings.GATEWAY_FLUSH_INTERVAL = 3600
    metering.reset()
    cache.clear()  # the rate limit counts in the cache
    snapshot.cache.clear()
    yield
    cache.clear()
    snapshot.cache.clear()
    metering.reset()


def flush_usage() -> int:
    """Write what the playground spooled to the ledger (the flusher's job)."""
    return metering.flush_pending()


def _server(models: list[str], reply: str) -> FakeServer:
    server = FakeServer()
    server.models = models
    server.chat_reply = reply
    return server


@pytest.fixture
def local_server() -> Iterator[FakeServer]:
    with _server([LOCAL_MODEL], "The claim goes to the motor queue.") as server:
        yield server


@pytest.fixture
def big_server() -> Iterator[FakeServer]:
    with _server(
        [BIG_MODEL], "Motor queue, because the claim names a vehicle."
    ) as server:
        yield server


@pytest.fixture
def external_server() -> Iterator[FakeServer]:
    with _server([EXTERNAL_MODEL], "Route it to motor claims.") as server:
        yield server


@pytest.fixture
def local_endpoint(local_server: FakeServer) -> ServingEndpoint:
    return ServingEndpointFactory(
        name="Llama 8B (in-house)",
        kind="vllm",
        base_url=local_server.url,
        location="in_house",
        hourly_cost=Decimal("2.50"),
        served_models=[LOCAL_MODEL],
    )


@pytest.fixture
def big_endpoint(big_server: FakeServer) -> ServingEndpoint:
    return ServingEndpointFactory(
        name="Llama 70B (in-house)",
        kind="openai_compatible",
        base_url=big_server.url + "/v1",
        location="in_house",
        hourly_cost=None,
        served_models=[BIG_MODEL],
    )


@pytest.fixture
def external_endpoint(external_server: FakeServer) -> ServingEndpoint:
    endpoint = ServingEndpointFactory(
        name="OpenAI",
        kind="openai",
        base_url=external_server.url + "/v1",
        location="external",
        served_models=[EXTERNAL_MODEL],
    )
    endpoint.set_api_key("sk-test-playground")
    endpoint.save()
    return endpoint


@pytest.fixture
def catalogue_price(db) -> CatalogModel:  # type: ignore[no-untyped-def]
    """GPT-4o mini at $0.15 / $0.60 a million tokens."""
    return CatalogModel.objects.create(
        key=EXTERNAL_MODEL,
        name="GPT-4o mini",
        provider="OpenAI",
        capability_tier="standard",
        context_window=128_000,
        hosting=["api"],
        input_usd_per_mtok=Decimal("0.15"),
        output_usd_per_mtok=Decimal("0.60"),
    )


def target(endpoint: ServingEndpoint, model: str | None = None) -> str:
    return f"{endpoint.pk}:{model or endpoint.served_models[0]}"


def form_data(*targets: str, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "prompt": "Which queue does this claim go to? A van hit a fence.",
        "system_prompt": "You route insurance claims.",
        "temperature": "0.2",
        "max_tokens": "128",
        "data_classification": "internal",
        "target": list(targets),
    }
    data.update(overrides)
    return data


@dataclass
class Streamed:
    """A playground response: status, JSON body or the events with arrival times."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    events: list[tuple[str, dict[str, Any], float]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [data for event, data, _ in self.events if event == kind]

    def text(self, column: int) -> str:
        return "".join(d["text"] for d in self.of("delta") if d["column"] == column)

    def column(self, column: int) -> dict[str, Any]:
        (found,) = [d for d in self.of("column") if d["column"] == column]
        return found


def parse_sse(buffer: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for frame in buffer.split("\n\n"):
        if not frame.strip():
            continue
        kind, data = "message", []
        for line in frame.split("\n"):
            if line.startswith("event:"):
                kind = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        events.append((kind, json.loads("\n".join(data))))
    return events


def stream(user, data: dict[str, Any]) -> Streamed:  # type: ignore[no-untyped-def]
    """POST to the async streaming view through Django's AsyncClient."""

    async def go() -> Streamed:
        client = AsyncClient()
        await client.aforce_login(user)
        started = time.perf_counter()
        response = await client.post(reverse("playground:stream"), data)
        headers = dict(response.items())
        if not response.streaming:
            return Streamed(
                response.status_code, json.loads(response.content), headers=headers
            )
        result = Streamed(response.status_code, headers=headers)
        buffer = ""
        async for chunk in response.streaming_content:
            buffer += chunk.decode()
            *frames, buffer = buffer.split("\n\n")
            for frame in frames:
                for kind, payload in parse_sse(frame + "\n\n"):
                    result.events.append((kind, payload, time.perf_counter() - started))
        return result

    return async_to_sync(go)()


def anthropic_route(text: str, *, input_tokens: int = 12) -> Any:
    """A ``POST /v1/messages`` handler streaming ``text`` word by word, as Anthropic does."""

    def handler(request: RecordedRequest) -> Reply:
        words = text.split(" ")

        def event(kind: str, payload: dict[str, Any]) -> bytes:
            return f"event: {kind}\ndata: {json.dumps({'type': kind, **payload})}\n\n".encode()

        def chunks() -> Iterator[bytes]:
            yield event(
                "message_start",
                {
                    "message": {
                        "id": "msg_1",
                        "type": "message",
                        "role": "assistant",
                        "content": [],
                        "model": request.json()["model"],
                        "usage": {"input_tokens": input_tokens, "output_tokens": 1},
                    }
                },
            )
            yield event(
                "content_block_start",
                {"index": 0, "content_block": {"type": "text", "text": ""}},
            )
            yield b'event: ping\ndata: {"type": "ping"}\n\n'
            for index, word in enumerate(words):
                piece = word if index == 0 else f" {word}"
                yield event(
                    "content_block_delta",
                    {"index": 0, "delta": {"type": "text_delta", "text": piece}},
                )
            yield event("content_block_stop", {"index": 0})
            yield event(
                "message_delta",
                {
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": len(words)},
                },
            )
            yield event("message_stop", {})

        return Reply(200, {"content-type": "text/event-stream"}, chunks=chunks())

    return handler
