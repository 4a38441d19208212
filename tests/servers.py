"""A real HTTP server on 127.0.0.1 for tests, whose behaviour changes at run time.

``FakeServer`` is a ``ThreadingHTTPServer`` on an ephemeral loopback port, run in
a daemon thread. It plays vLLM, TGI, LiteLLM, OpenAI, Anthropic or any
OpenAI-compatible server, and can misbehave on any path. Use it where timing,
streaming or faults matter; for plain payload parsing, respx is lighter.

Start it as a context manager, or with a fixture in your module or conftest::

    import pytest
    from tests.servers import FakeServer

    @pytest.fixture
    def server():
        with FakeServer() as server:
            yield server

    def test_it_reads_vllm_counters(server):
        server.set_vllm(model="m", prompt_tokens=10, generation_tokens=5, requests=2)
        response = httpx.get(server.url + "/metrics")

What it serves (``server.url`` is ``http://127.0.0.1:<port>``, no trailing slash):

- ``GET /metrics``: a vLLM exposition built from :meth:`FakeServer.set_vllm`
  (one call per model, and per ``engine`` if you like), or a TGI one after
  :meth:`FakeServer.set_tgi` (or a recorded page with
  :meth:`FakeServer.set_tgi_text`), which also makes ``GET /info`` answer. Values can
  be changed between scrapes (``set_vllm`` again with lower numbers = a restart).
- ``GET /health``: 200.
- ``GET /v1/models``: an OpenAI list of ``server.models``.
- ``POST /v1/chat/completions``: an OpenAI chat completion answering
  ``server.chat_reply``; with ``"stream": true`` it streams SSE chunks word by
  word (``server.chunk_delay`` seconds apart), with a final usage chunk when
  ``stream_options.include_usage`` is true, then ``data: [DONE]``.
- JSON pages anywhere: :meth:`FakeServer.json` for one body,
  :meth:`FakeServer.json_pages` for a paginated list. The ``page`` query
  parameter selects the page: absent (or ``1``) is the first page, a value equal
  to page *n*'s ``next_page`` cursor is page *n + 1* (OpenAI, Anthropic), and
  ``2``, ``3`` … are pages two, three … (LiteLLM).

Faults, per path (``None`` = every path), until :meth:`FakeServer.clear_faults`:

- :meth:`FakeServer.fail` answers a status (500 by default);
- :meth:`FakeServer.garbage` answers a 200 with a nonsense body;
- :meth:`FakeServer.hang` waits before answering (ends early when the server
  stops, so tests never wait for it);
- :meth:`FakeServer.redirect` answers a redirect to any URL;
- :meth:`FakeServer.trickle` sends a body one byte at a time (a slow upstream).

``server.require_key = "secret"`` makes every path but ``/health`` demand
``Authorization: Bearer secret`` or ``x-api-key: secret`` (else 401).
``server.requests`` records each request (:class:`RecordedRequest`) in order.

``fixture_text(name)`` / ``fixture_json(name)`` load recorded provider payloads
from ``tests/fixtures/providers/`` (see the README there).
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "FIXTURES",
    "FakeServer",
    "RecordedRequest",
    "Reply",
    "fixture_json",
    "fixture_text",
]


@dataclass(frozen=True)
class RecordedRequest:
    """A request the fake server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


@dataclass
class Reply:
    """What a route answers: a status, headers and a body (or streamed chunks)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    chunks: Iterator[bytes] | None = None  # streamed with chunked encoding


Route = Callable[[RecordedRequest], Reply]


@dataclass
class _VllmSeries:
    model: str
    engine: str
    prompt_tokens: float
    generation_tokens: float
    requests: float
    created: float


class FakeServer:
    """A switchable fake model server on 127.0.0.1 (see the module docstring)."""

    def __init__(self) -> None:
        self.models: list[str] = ["fake-model"]
        self.chat_reply = "Hello from the fake server."
        self.chunk_delay = 0.0
        self.require_key: str | None = None
        self.requests: list[RecordedRequest] = []
        self.trickled = 0
        self._routes: dict[tuple[str, str], Route] = {}
        self._faults: dict[str | None, Route] = {}
        self._vllm: dict[tuple[str, str], _VllmSeries] = {}
        self._tgi: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle.

    def start(self) -> FakeServer:
        """Bind to an ephemeral loopback port and serve in a daemon thread."""
        server = self

        class Handler(_Handler):
            fake = server

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},  # so stop() returns at once
            name="fake-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; hanging requests are released."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "start the server first"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    # Behaviour.

    def route(self, method: str, path: str, handler: Route) -> None:
        """Answer ``method path`` with ``handler(request) -> Reply``."""
        with self._lock:
            self._routes[(method.upper(), path)] = handler

    def json(self, path: str, body: Any, *, status: int = 200) -> None:
        """Answer ``GET path`` with ``body`` as JSON."""
        self.route("GET", path, lambda request: _json_reply(body, status))

    def json_pages(self, path: str, pages: list[Any]) -> None:
        """Answer ``GET path`` with one of ``pages``, picked by ``?page=``."""
        lookup: dict[str, int] = {}
        for index, page in enumerate(pages):
            lookup.setdefault(str(index + 1), index)
            cursor = page.get("next_page") if isinstance(page, dict) else None
            if cursor and index + 1 < len(pages):
                lookup[str(cursor)] = index + 1

        def handler(request: RecordedRequest) -> Reply:
            wanted = request.query.get("page", ["1"])[0]
            if wanted not in lookup:
                return _json_reply({"error": f"no page {wanted!r}"}, 400)
            return _json_reply(pages[lookup[wanted]], 200)

        self.route("GET", path, handler)

    def set_vllm(
        self,
        *,
        model: str = "meta-llama/Llama-3.1-8B-Instruct",
        prompt_tokens: float = 0,
        generation_tokens: float = 0,
        requests: float = 0,
        engine: str = "0",
        created: float | None = None,
    ) -> None:
        """Serve vLLM counters for ``model`` (``requests`` split over reasons)."""
        with self._lock:
            key = (model, engine)
            previous = self._vllm.get(key)
            if created is None:
                created = previous.created if previous else time.time()
            self._vllm[key] = _VllmSeries(
                model, engine, prompt_tokens, generation_tokens, requests, created
            )
            self._tgi = None
            if model not in self.models:
                self.models.append(model)

    def set_tgi(
        self,
        *,
        model: str = "bigscience/bloom-560m",
        requests: float = 0,
        input_tokens: float = 0,
        generated_tokens: float = 0,
        failures: float = 0,
    ) -> None:
        """Serve TGI metrics (``/metrics``) and ``/info`` for ``model``."""
        with self._lock:
            self._tgi = {
                "model": model,
                "requests": requests,
                "input_tokens": input_tokens,
                "generated_tokens": generated_tokens,
                "failures": failures,
            }
            self._vllm.clear()

    def set_tgi_text(self, *, model: str = "bigscience/bloom-560m", text: str) -> None:
        """Serve ``text`` (a recorded TGI page) as ``/metrics`` and ``/info`` for ``model``."""
        with self._lock:
            self._tgi = {"model": model, "text": text}
            self._vllm.clear()

    def fail(self, path: str | None = None, *, status: int = 500) -> None:
        """Answer ``status`` on ``path`` (every path when None)."""
        self._fault(path, lambda request: _json_reply({"error": "boom"}, status))

    def garbage(self, path: str | None = None, *, body: bytes | None = None) -> None:
        """Answer 200 with a body that is neither JSON nor Prometheus text."""
        junk = body if body is not None else b"<html>\x00\xff not what you want {"
        self._fault(
            path, lambda request: Reply(200, {"content-type": "text/html"}, junk)
        )

    def hang(self, path: str | None = None, *, seconds: float = 30.0) -> None:
        """Wait ``seconds`` (or until the server stops) before answering 200."""

        def handler(request: RecordedRequest) -> Reply:
            self._stopping.wait(seconds)
            return Reply(200, {}, b"late")

        self._fault(path, handler)

    def trickle(self, path: str | None = None, *, body: bytes, interval: float) -> None:
        """Answer 200 sending ``body`` one byte every ``interval`` seconds.

        ``server.trickled`` counts the bytes of body sent so far.
        """

        def chunks() -> Iterator[bytes]:
            for byte in body:
                if self._stopping.wait(interval):
                    return
                with self._lock:
                    self.trickled += 1
                yield bytes([byte])

        self._fault(path, lambda request: Reply(200, {}, chunks=chunks()))

    def redirect(
        self, path: str | None = None, *, location: str, status: int = 302
    ) -> None:
        """Redirect ``path`` to ``location``."""
        self._fault(path, lambda request: Reply(status, {"location": location}, b""))

    def clear_faults(self) -> None:
        """Back to normal behaviour on every path."""
        with self._lock:
            self._faults.clear()

    def _fault(self, path: str | None, handler: Route) -> None:
        with self._lock:
            self._faults[path] = handler

    # Dispatch, called from the handler threads.

    def _dispatch(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            fault = self._faults.get(request.path) or self._faults.get(None)
            route = self._routes.get((request.method, request.path))
        if fault is not None:
            return fault(request)
        if self.require_key and request.path != "/health":
            presented = request.headers.get("x-api-key") or request.headers.get(
                "authorization", ""
            ).removeprefix("Bearer ")
            if presented != self.require_key:
                return _json_reply({"error": "unauthorized"}, 401)
        if route is not None:
            return route(request)
        builtin = {
            ("GET", "/metrics"): self._metrics,
            ("GET", "/info"): self._info,
            ("GET", "/health"): lambda request: Reply(200, {}, b""),
            ("GET", "/v1/models"): self._models,
            ("POST", "/v1/chat/completions"): self._chat,
        }.get((request.method, request.path))
        if builtin is None:
            return _json_reply({"error": "not found"}, 404)
        return builtin(request)

    def _metrics(self, request: RecordedRequest) -> Reply:
        with self._lock:
            if self._tgi is not None and "text" in self._tgi:
                text = self._tgi["text"]
            elif self._tgi is not None:
                text = tgi_metrics(**self._tgi)
            else:
                text = vllm_metrics(list(self._vllm.values()))
        return Reply(200, {"content-type": "text/plain; version=0.0.4"}, text.encode())

    def _info(self, request: RecordedRequest) -> Reply:
        with self._lock:
            tgi = self._tgi
        if tgi is None:
            return _json_reply({"error": "not found"}, 404)
        return _json_reply(
            {
                "model_id": tgi["model"],
                "model_sha": "0" * 40,
                "model_dtype": "torch.float16",
                "max_total_tokens": 4096,
                "version": "3.3.6",
            },
            200,
        )

    def _models(self, request: RecordedRequest) -> Reply:
        data = [
            {"id": model, "object": "model", "created": 0, "owned_by": "fake"}
            for model in self.models
        ]
        return _json_reply({"object": "list", "data": data}, 200)

    def _chat(self, request: RecordedRequest) -> Reply:
        try:
            payload = request.json()
        except ValueError:
            return _json_reply({"error": {"message": "invalid JSON"}}, 400)
        model = payload.get("model") or self.models[0]
        words = self.chat_reply.split(" ")
        prompt_tokens = sum(
            len(str(message.get("content", "")).split())
            for message in payload.get("messages", [])
        )
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(words),
            "total_tokens": prompt_tokens + len(words),
        }
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        created = int(time.time())
        if not payload.get("stream"):
            body = {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.chat_reply},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            }
            return _json_reply(body, 200)
        include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
        return Reply(
            200,
            {"content-type": "text/event-stream", "cache-control": "no-cache"},
            chunks=self._sse(
                completion_id, created, model, words, usage, include_usage
            ),
        )

    def _sse(
        self,
        completion_id: str,
        created: int,
        model: str,
        words: list[str],
        usage: dict[str, int],
        include_usage: bool,
    ) -> Iterator[bytes]:
        def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": choices,
                **extra,
            }
            return f"data: {json.dumps(chunk)}\n\n".encode()

        yield event([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
        for index, word in enumerate(words):
            if self.chunk_delay and self._stopping.wait(self.chunk_delay):
                return
            text = word if index == 0 else f" {word}"
            delta = {"index": 0, "delta": {"content": text}, "finish_reason": None}
            yield event([delta])
        yield event([{"index": 0, "delta": {}, "finish_reason": "stop"}])
        if include_usage:
            yield event([], usage=usage)
        yield b"data: [DONE]\n\n"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (timeouts, closed keep-alive) are part of the tests.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output quiet

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        reply = self.fake._dispatch(request)
        try:
            self._write(reply)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout test, say); nothing left to answer.
            self.close_connection = True

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunks is None:
            self.send_header("content-length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)
            return
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for chunk in reply.chunks:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


def _json_reply(body: Any, status: int) -> Reply:
    return Reply(
        status,
        {"content-type": "application/json"},
        json.dumps(body, default=_json_default).encode(),
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def vllm_metrics(series: list[_VllmSeries]) -> str:
    """A vLLM V1-style exposition, laid out as ``prometheus_client`` writes it.

    Counters carry ``model_name`` and ``engine`` labels and a ``_created`` gauge.
    """
    lines: list[str] = []

    def counter(
        name: str, help_text: str, rows: list[tuple[str, float, float]]
    ) -> None:
        lines.extend(
            [f"# HELP {name}_total {help_text}", f"# TYPE {name}_total counter"]
        )
        lines.extend(f"{name}_total{{{labels}}} {value!r}" for labels, value, _ in rows)
        lines.extend(
            [f"# HELP {name}_created {help_text}", f"# TYPE {name}_created gauge"]
        )
        lines.extend(
            f"{name}_created{{{labels}}} {created!r}" for labels, _, created in rows
        )

    def labels(s: _VllmSeries, **extra: str) -> str:
        pairs = {"engine": s.engine, **extra, "model_name": s.model}
        return ",".join(f'{name}="{value}"' for name, value in pairs.items())

    counter(
        "vllm:prompt_tokens",
        "Number of prefill tokens processed.",
        [(labels(s), float(s.prompt_tokens), s.created) for s in series],
    )
    counter(
        "vllm:generation_tokens",
        "Number of generation tokens processed.",
        [(labels(s), float(s.generation_tokens), s.created) for s in series],
    )
    rows = []
    for s in series:
        # Split the total over reasons as a real server would (stop-heavy).
        length = float(int(s.requests) // 10)
        reasons = {"stop": s.requests - length, "length": length, "abort": 0.0}
        rows += [
            (labels(s, finished_reason=reason), float(value), s.created)
            for reason, value in reasons.items()
        ]
    counter("vllm:request_success", "Count of successfully processed requests.", rows)
    lines += [
        "# HELP vllm:num_requests_running Number of requests in model execution.",
        "# TYPE vllm:num_requests_running gauge",
    ]
    lines.extend(f"vllm:num_requests_running{{{labels(s)}}} 0.0" for s in series)
    lines += [
        "# HELP http_requests_total Total number of requests by handler.",
        "# TYPE http_requests_total counter",
        'http_requests_total{handler="/v1/chat/completions",method="POST",'
        'status="2xx"} 3.0',
    ]
    return "\n".join(lines) + "\n"


def tgi_metrics(
    *,
    model: str,
    requests: float,
    input_tokens: float,
    generated_tokens: float,
    failures: float,
) -> str:
    """A TGI-style exposition (no model label, token histograms)."""
    count = max(int(requests), 1)
    lines = [
        "# TYPE tgi_request_count counter",
        f"tgi_request_count {int(requests + failures)}",
        "# TYPE tgi_request_success counter",
        f"tgi_request_success {int(requests)}",
        "# TYPE tgi_request_failure counter",
        f'tgi_request_failure{{err="validation"}} {int(failures)}',
        "# TYPE tgi_request_input_length histogram",
        f'tgi_request_input_length_bucket{{le="1000"}} {count}',
        f'tgi_request_input_length_bucket{{le="+Inf"}} {count}',
        f"tgi_request_input_length_sum {input_tokens}",
        f"tgi_request_input_length_count {count}",
        "# TYPE tgi_request_generated_tokens histogram",
        f'tgi_request_generated_tokens_bucket{{le="1000"}} {count}',
        f'tgi_request_generated_tokens_bucket{{le="+Inf"}} {count}',
        f"tgi_request_generated_tokens_sum {generated_tokens}",
        f"tgi_request_generated_tokens_count {count}",
        "# TYPE tgi_queue_size gauge",
        "tgi_queue_size 0",
    ]
    return "\n".join(lines) + "\n"


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "providers"


def fixture_text(name: str) -> str:
    """The text of ``tests/fixtures/providers/<name>``."""
    return (FIXTURES / name).read_text(encoding="utf-8")


def fixture_json(name: str) -> Any:
    """``tests/fixtures/providers/<name>`` parsed as JSON."""
    return json.loads(fixture_text(name))
