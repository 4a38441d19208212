"""Sending one prompt to several models at once and timing each answer (no database).

Each column runs in its own task; a column that errors or times out ends with its
error while the others go on. Events come out in arrival order through a queue.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from django.conf import settings

from apps.core.http import UnsafeURL, make_async_client

from .clients import (
    ChatRequest,
    Connection,
    ProviderError,
    TextDelta,
    UsageReport,
    stream_chat,
)
from .models import RunOutput, tokens_per_second

logger = logging.getLogger(__name__)

#: Longest answer kept per column; the stream is cut there.
MAX_ANSWER_CHARS = 200_000
MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Target:
    """One column: an endpoint's model, how to call it and how to price it."""

    position: int
    endpoint_id: int
    endpoint_name: str
    kind: str
    location: str
    model: str
    connection: Connection | None = None  # None when the key cannot be read
    connection_error: str = ""
    input_usd_per_mtok: Decimal | None = None
    output_usd_per_mtok: Decimal | None = None
    self_hosted: bool = False

    @property
    def label(self) -> str:
        return (
            f"{self.endpoint_name} · {self.model}" if self.model else self.endpoint_name
        )

    def cost(
        self, *, input_tokens: int | None, output_tokens: int | None
    ) -> tuple[Decimal | None, str]:
        """(USD, basis): per-token price, hourly (self-hosted: no per-call cost) or unknown."""
        if self.self_hosted:
            return None, RunOutput.CostBasis.HOURLY
        if (
            self.input_usd_per_mtok is None
            or input_tokens is None
            or output_tokens is None
        ):
            return None, RunOutput.CostBasis.UNKNOWN
        cost = (
            Decimal(input_tokens) * self.input_usd_per_mtok
            + Decimal(output_tokens) * (self.output_usd_per_mtok or Decimal(0))
        ) / MILLION
        return cost, RunOutput.CostBasis.PER_TOKEN

    def describe(self) -> dict[str, Any]:
        """What a page or a stored run may know about the column (never the key)."""
        return {
            "position": self.position,
            "endpoint": self.endpoint_id,
            "endpoint_name": self.endpoint_name,
            "location": self.location,
            "model": self.model,
            "self_hosted": self.self_hosted,
        }


@dataclass
class ColumnResult:
    """One column's answer so far; complete once ``status`` is set."""

    position: int
    status: str = ""
    text_parts: list[str] = field(default_factory=list)
    error: str = ""
    ttft_ms: float | None = None
    total_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def metrics(self, target: Target) -> dict[str, Any]:
        cost, basis = target.cost(
            input_tokens=self.input_tokens, output_tokens=self.output_tokens
        )
        return {
            "ttft_ms": _round(self.ttft_ms),
            "total_ms": _round(self.total_ms),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "tokens_per_second": _round(
                tokens_per_second(
                    output_tokens=self.output_tokens,
                    ttft_ms=self.ttft_ms,
                    total_ms=self.total_ms,
                )
            ),
            "cost_usd": None if cost is None else f"{cost:.6f}",
            "cost_basis": basis,
        }


@dataclass(frozen=True)
class Delta:
    position: int
    text: str


@dataclass(frozen=True)
class ColumnDone:
    result: ColumnResult


@dataclass(frozen=True)
class Started:
    """Every column's request is under way."""


RunEvent = Started | Delta | ColumnDone


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds: once per process, not per call.
    return httpx.create_ssl_context(trust_env=False)


def read_timeout() -> float:
    return float(getattr(settings, "PLAYGROUND_READ_TIMEOUT_SECONDS", 60.0))


def make_client(*, keepalive: bool = False) -> httpx.AsyncClient:
    """A guarded client: connect timeout 5 s, read timeout per chunk from settings."""
    read = read_timeout()
    return make_async_client(
        timeout=httpx.Timeout(read, connect=min(read, 5.0)),
        verify=_ssl_context(),
        limits=httpx.Limits(
            max_connections=64,
            max_keepalive_connections=16 if keepalive else 0,
            keepalive_expiry=30.0,
        ),
    )


_shared_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, httpx.AsyncClient
] = weakref.WeakKeyDictionary()


def shared_client() -> httpx.AsyncClient:
    """One keep-alive client per event loop (the ASGI server's), for the streams.

    Reusing connections to the model servers keeps a TCP (and TLS) handshake off
    every time to first token. Every new connection still passes the SSRF guard.
    """
    loop = asyncio.get_running_loop()
    client = _shared_clients.get(loop)
    if client is None or client.is_closed:
        client = make_client(keepalive=True)
        _shared_clients[loop] = client
    return client


def total_timeout() -> float:
    return float(getattr(settings, "PLAYGROUND_TOTAL_TIMEOUT_SECONDS", 180.0))


async def run_column(
    client: httpx.AsyncClient,
    target: Target,
    request: ChatRequest,
    result: ColumnResult,
    emit: asyncio.Queue[RunEvent] | None = None,
) -> ColumnResult:
    """Stream one column into ``result`` (filled in place, so a cancel keeps it)."""
    started = time.perf_counter()
    size = 0
    try:
        if target.connection is None:
            raise ProviderError(
                target.connection_error or "The endpoint cannot be called."
            )
        async with asyncio.timeout(total_timeout()):
            async for item in stream_chat(client, target.connection, request):
                if isinstance(item, TextDelta):
                    if result.ttft_ms is None:
                        result.ttft_ms = (time.perf_counter() - started) * 1000
                    text = item.text[: MAX_ANSWER_CHARS - size]
                    size += len(text)
                    result.text_parts.append(text)
                    if emit is not None and text:
                        emit.put_nowait(Delta(target.position, text))
                    if size >= MAX_ANSWER_CHARS:
                        break
                elif isinstance(item, UsageReport):
                    result.input_tokens = item.input_tokens
                    result.output_tokens = item.output_tokens
        if size == 0 and result.input_tokens is None and result.output_tokens is None:
            # Nothing at all came back: an answer in a shape not understood.
            raise ProviderError("The endpoint answered, but with no text and no usage.")
        result.status = RunOutput.Status.DONE
    except ProviderError as exc:
        _fail(result, exc.message)
    except TimeoutError:
        _fail(result, f"No complete answer within {total_timeout():.0f} s.")
    except httpx.TimeoutException:
        _fail(result, "Timed out waiting for the model.")
    except UnsafeURL as exc:
        _fail(result, f"The endpoint's address is refused: {exc.message}")
    except httpx.HTTPError as exc:
        _fail(result, f"Could not reach the endpoint: {exc.__class__.__name__}.")
    except asyncio.CancelledError:
        result.status = RunOutput.Status.STOPPED
        raise
    except Exception:
        # Whatever went wrong, the column ends with an error: a column that never
        # reports done would hold the stream open forever. Details go to the log.
        logger.exception("Playground column %s failed", target.position)
        _fail(result, "Unexpected error while calling the endpoint.")
    finally:
        result.total_ms = (time.perf_counter() - started) * 1000
    if emit is not None:
        emit.put_nowait(ColumnDone(result))
    return result


def _fail(result: ColumnResult, message: str) -> None:
    result.status = RunOutput.Status.ERROR
    result.error = message


async def stream_columns(
    *, targets: list[Target], request: ChatRequest, results: list[ColumnResult]
) -> AsyncIterator[RunEvent]:
    """All columns at once: ``Started``, then events as they arrive, ending after
    every column's done.

    Closing the iterator early (the client went away) cancels the columns still
    streaming, which closes their upstream connections; ``results`` keeps what
    came in, marked stopped.
    """
    queue: asyncio.Queue[RunEvent] = asyncio.Queue()
    client = shared_client()
    tasks = [
        asyncio.create_task(
            run_column(
                client,
                target,
                _for_target(request, target),
                results[target.position],
                queue,
            )
        )
        for target in targets
    ]
    try:
        yield Started()
        pending = len(tasks)
        while pending:
            event = await queue.get()
            if isinstance(event, ColumnDone):
                pending -= 1
            yield event
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if not result.status:
                result.status = RunOutput.Status.STOPPED


async def run_columns(
    *, targets: list[Target], request: ChatRequest
) -> list[ColumnResult]:
    """Every column to the end, without streaming (the API and test sets).

    Results come back in the order of ``targets``.
    """
    results = [ColumnResult(t.position) for t in targets]
    async with make_client() as client:
        await asyncio.gather(
            *(
                run_column(client, t, _for_target(request, t), result)
                for t, result in zip(targets, results, strict=True)
            )
        )
    return results


def _for_target(request: ChatRequest, target: Target) -> ChatRequest:
    return ChatRequest(
        model=target.model,
        prompt=request.prompt,
        system_prompt=request.system_prompt,
        temperature=request.temperature,
        max_tokens=request.max_tokens,
        read_timeout=read_timeout(),
    )


def as_json(result: ColumnResult, target: Target) -> dict[str, Any]:
    data = asdict(result)
    data.pop("text_parts")
    return {**data, **result.metrics(target)}
