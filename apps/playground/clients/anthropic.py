"""Anthropic's messages API (``POST /v1/messages``), streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from .base import (
    ChatRequest,
    Connection,
    ProviderError,
    StreamItem,
    TextDelta,
    UsageReport,
    api_root,
    as_int,
    error_text,
    iter_sse,
    parse_json,
    raise_for_status,
)

ANTHROPIC_VERSION = "2023-06-01"


def request_body(request: ChatRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": [{"role": "user", "content": request.prompt}],
        # Anthropic's temperature runs from 0 to 1.
        "temperature": min(max(request.temperature, 0.0), 1.0),
        "stream": True,
    }
    if request.system_prompt:
        body["system"] = request.system_prompt
    return body


async def stream_chat(
    client: httpx.AsyncClient, connection: Connection, request: ChatRequest
) -> AsyncIterator[StreamItem]:
    """Stream one message: text deltas, then the input and output token counts."""
    url = f"{api_root(connection.base_url)}/v1/messages"
    headers = {"anthropic-version": ANTHROPIC_VERSION, "accept": "text/event-stream"}
    if connection.api_key:
        headers["x-api-key"] = connection.api_key
    input_tokens: int | None = None
    output_tokens: int | None = None
    async with client.stream(
        "POST",
        url,
        json=request_body(request),
        headers=headers,
        timeout=request.timeout(),
    ) as response:
        await raise_for_status(response)
        if "text/event-stream" not in response.headers.get("content-type", ""):
            # A server or proxy that ignores "stream": one JSON answer instead.
            body = parse_json((await response.aread()).decode("utf-8", "replace"))
            for item in _from_message(body):
                yield item
            return
        async for event, data in iter_sse(response):
            payload = parse_json(data)
            if not isinstance(payload, dict):
                raise ProviderError("The provider sent an unexpected event.")
            kind = payload.get("type") or event
            if kind == "error":
                raise ProviderError(error_text(payload))
            if kind == "message_start":
                usage = (payload.get("message") or {}).get("usage") or {}
                input_tokens = as_int(usage.get("input_tokens"))
                output_tokens = as_int(usage.get("output_tokens"))
            elif kind == "content_block_delta":
                delta = payload.get("delta") or {}
                text = delta.get("text")
                if delta.get("type") == "text_delta" and isinstance(text, str) and text:
                    yield TextDelta(text)
            elif kind == "message_delta":
                usage = payload.get("usage") or {}
                output_tokens = as_int(usage.get("output_tokens")) or output_tokens
                input_tokens = as_int(usage.get("input_tokens")) or input_tokens
            elif kind == "message_stop":
                break
    yield UsageReport(input_tokens, output_tokens)


def _from_message(data: Any) -> list[StreamItem]:
    """Text and usage of a whole JSON answer: a Message, or a chat.completion."""
    if not isinstance(data, dict):
        raise ProviderError("The provider sent an unexpected answer.")
    if data.get("type") == "error" or "error" in data:
        raise ProviderError(error_text(data))
    items: list[StreamItem] = []
    if "choices" in data:  # an OpenAI-style proxy in front of Claude
        for choice in data.get("choices") or []:
            text = ((choice or {}).get("message") or {}).get("content")
            if isinstance(text, str) and text:
                items.append(TextDelta(text))
        usage = data.get("usage") or {}
        items.append(
            UsageReport(
                as_int(usage.get("prompt_tokens")),
                as_int(usage.get("completion_tokens")),
            )
        )
        return items
    for block in data.get("content") or []:
        text = (block or {}).get("text")
        if (block or {}).get("type") == "text" and isinstance(text, str) and text:
            items.append(TextDelta(text))
    usage = data.get("usage") or {}
    items.append(
        UsageReport(
            as_int(usage.get("input_tokens")), as_int(usage.get("output_tokens"))
        )
    )
    return items
