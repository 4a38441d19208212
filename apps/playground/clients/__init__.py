"""One streaming chat client per provider API, chosen by the endpoint's kind."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from . import anthropic, openai_compatible
from .base import (
    ChatRequest,
    Connection,
    ProviderError,
    StreamItem,
    TextDelta,
    UsageReport,
)

__all__ = [
    "ChatRequest",
    "Connection",
    "ProviderError",
    "StreamItem",
    "TextDelta",
    "UsageReport",
    "stream_chat",
]


def stream_chat(
    client: httpx.AsyncClient, connection: Connection, request: ChatRequest
) -> AsyncIterator[StreamItem]:
    """Anthropic's messages API for ``anthropic`` endpoints, OpenAI's for the rest."""
    if connection.kind == "anthropic":
        return anthropic.stream_chat(client, connection, request)
    return openai_compatible.stream_chat(client, connection, request)
