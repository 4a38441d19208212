"""What every provider client takes and yields, and the SSE reading they share.

Clients never touch the database: they get an ``httpx.AsyncClient`` (from
``apps.core.http``, so every call passes the SSRF guard), a :class:`Connection`
with the decrypted key, and a :class:`ChatRequest`; they yield
:class:`TextDelta` and :class:`UsageReport` values as the answer streams in, and
raise :class:`ProviderError` with a message fit to show the user.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

#: Longest error body read from a provider (the rest is not worth showing).
MAX_ERROR_BYTES = 4096
#: Longest single SSE line accepted; a bigger one is refused.
MAX_LINE_CHARS = 1_000_000
_VERSION_SUFFIX = re.compile(r"/v\d+(?:alpha\d*|beta\d*)?$")


@dataclass(frozen=True, slots=True)
class Connection:
    """Where and how to call one endpoint."""

    kind: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str
    prompt: str
    system_prompt: str = ""
    temperature: float = 0.7
    max_tokens: int = 512
    #: Seconds to wait for each chunk (None: the client's own timeout).
    read_timeout: float | None = None

    def timeout(self) -> Any:  # httpx.Timeout or httpx.USE_CLIENT_DEFAULT
        if self.read_timeout is None:
            return httpx.USE_CLIENT_DEFAULT
        return httpx.Timeout(self.read_timeout, connect=min(self.read_timeout, 5.0))


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class UsageReport:
    """Token counts as the provider reported them (either may be missing)."""

    input_tokens: int | None = None
    output_tokens: int | None = None


StreamItem = TextDelta | UsageReport


class ProviderError(Exception):
    """The provider refused or broke off; ``message`` is shown in the column."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def openai_api_base(base_url: str) -> str:
    """``…/v1`` for both forms people type (``http://host:8000`` and ``…/v1``)."""
    base = base_url.strip().rstrip("/")
    return base if _VERSION_SUFFIX.search(base) else f"{base}/v1"


def api_root(base_url: str) -> str:
    """The server root: no trailing slash, no ``/v1``."""
    root = base_url.strip().rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


async def raise_for_status(response: httpx.Response) -> None:
    """Raise :class:`ProviderError` with the provider's own message on 4xx/5xx."""
    if response.status_code < 400:
        return
    body = b""
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= MAX_ERROR_BYTES:
            break
    detail = _error_message(body[:MAX_ERROR_BYTES])
    message = f"HTTP {response.status_code}"
    raise ProviderError(f"{message}: {detail}" if detail else message)


def _error_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:300]
    return error_text(data)[:300]


def error_text(data: Any) -> str:
    """The message of an OpenAI- or Anthropic-shaped error body."""
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            return str(error.get("message") or error.get("type") or error)
        return str(error)
    return str(data)


async def iter_sse(response: httpx.Response) -> AsyncIterator[tuple[str, str]]:
    """``(event, data)`` pairs of a server-sent event stream.

    Multi-line ``data`` fields are joined with newlines; comments are skipped.
    """
    event = ""
    data: list[str] = []
    async for line in response.aiter_lines():
        if len(line) > MAX_LINE_CHARS:
            raise ProviderError("The provider sent an oversized event.")
        if not line:
            if data:
                yield event or "message", "\n".join(data)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield event or "message", "\n".join(data)


def parse_json(data: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        raise ProviderError("The provider sent an unreadable event.") from None


def as_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if value >= 0 else None
