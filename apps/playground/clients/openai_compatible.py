"""OpenAI's ``/v1/chat/completions`` as vLLM, TGI, LiteLLM, Ollama and OpenAI serve it."""

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
    as_int,
    error_text,
    iter_sse,
    openai_api_base,
    parse_json,
    raise_for_status,
)


def request_body(connection: Connection, request: ChatRequest) -> dict[str, Any]:
    messages = []
    if request.system_prompt:
        messages.append({"role": "system", "content": request.system_prompt})
    messages.append({"role": "user", "content": request.prompt})
    # OpenAI's newer models take only max_completion_tokens; servers that mimic
    # the older API (vLLM, TGI, Ollama) know max_tokens.
    limit = "max_completion_tokens" if connection.kind == "openai" else "max_tokens"
    return {
        "model": request.model,
        "messages": messages,
        "temperature": request.temperature,
        limit: request.max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def stream_chat(
    client: httpx.AsyncClient, connection: Connection, request: ChatRequest
) -> AsyncIterator[StreamItem]:
    """Stream one chat completion: text deltas, then usage if the server gives it."""
    url = f"{openai_api_base(connection.base_url)}/chat/completions"
    headers = {"accept": "text/event-stream"}
    if connection.api_key:
        headers["authorization"] = f"Bearer {connection.api_key}"
    body = request_body(connection, request)
    async with client.stream(
        "POST", url, json=body, headers=headers, timeout=request.timeout()
    ) as response:
        await raise_for_status(response)
        if "text/event-stream" not in response.headers.get("content-type", ""):
            # A server that ignores "stream": one JSON completion instead.
            data = parse_json((await response.aread()).decode("utf-8", "replace"))
            for item in _from_completion(data):
                yield item
            return
        finished = False
        async for _event, data in iter_sse(response):
            # Read on to the end of the body after [DONE], so the connection can
            # go back to the pool rather than be closed half-read.
            if finished:
                continue
            if data.strip() == "[DONE]":
                finished = True
                continue
            chunk = parse_json(data)
            if not isinstance(chunk, dict):
                raise ProviderError("The provider sent an unexpected event.")
            if "error" in chunk:
                raise ProviderError(error_text(chunk))
            for choice in chunk.get("choices") or []:
                delta = (choice or {}).get("delta") or {}
                text = delta.get("content")
                if isinstance(text, str) and text:
                    yield TextDelta(text)
            usage = chunk.get("usage")
            if isinstance(usage, dict):
                yield UsageReport(
                    as_int(usage.get("prompt_tokens")),
                    as_int(usage.get("completion_tokens")),
                )


def _from_completion(data: Any) -> list[StreamItem]:
    if not isinstance(data, dict):
        raise ProviderError("The provider sent an unexpected answer.")
    if "error" in data:
        raise ProviderError(error_text(data))
    items: list[StreamItem] = []
    for choice in data.get("choices") or []:
        text = ((choice or {}).get("message") or {}).get("content")
        if isinstance(text, str) and text:
            items.append(TextDelta(text))
    usage = data.get("usage")
    if isinstance(usage, dict):
        items.append(
            UsageReport(
                as_int(usage.get("prompt_tokens")),
                as_int(usage.get("completion_tokens")),
            )
        )
    return items
