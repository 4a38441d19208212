#!/usr/bin/env python3
"""A stand-alone fake vLLM server for demos (``make run``); standard library only.

    python scripts/fake_vllm.py --port 8101 --model meta-llama/Llama-3.1-8B-Instruct

Serves what the portal reads from a real vLLM:

- ``GET /metrics``: vLLM V1 Prometheus counters and gauges (labels ``model_name``
  and ``engine``), growing with simulated background traffic and with every chat
  request actually served; ``--reset-every`` simulates restarts (counters drop to
  zero and ``_created`` moves), to show reset handling;
- ``GET /v1/models``, ``GET /health``;
- ``POST /v1/chat/completions``: OpenAI format, streamed (SSE, word by word, with
  a usage chunk when ``stream_options.include_usage``) or not, echo-ish canned
  answers with token usage.

Not part of the portal: nothing under ``apps/`` imports it, and it imports nothing
from there.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Bucket bounds as vLLM declares them (shortened lists).
TOKEN_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
LATENCY_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0)
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 1.0)


class Histogram:
    """A cumulative Prometheus histogram."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        for index, bound in enumerate(self.bounds):
            if value <= bound:
                self.counts[index] += 1
        self.total += value
        self.count += 1


class Engine:
    """The counters of one fake vLLM process, with simulated traffic."""

    def __init__(self, model: str, rate_per_minute: float, seed: int) -> None:
        self.model = model
        self.rate_per_minute = rate_per_minute
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.running = 0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.created = time.time()
            self.prompt_tokens = 0
            self.generation_tokens = 0
            self.success = {"stop": 0, "length": 0, "abort": 0}
            self.http_requests = 0
            self.prompt_hist = Histogram(TOKEN_BUCKETS)
            self.generation_hist = Histogram(TOKEN_BUCKETS)
            self.e2e_hist = Histogram(LATENCY_BUCKETS)
            self.ttft_hist = Histogram(TTFT_BUCKETS)

    def record(
        self,
        prompt: int,
        generated: int,
        *,
        reason: str = "stop",
        seconds: float | None = None,
        ttft: float | None = None,
    ) -> None:
        with self.lock:
            self.prompt_tokens += prompt
            self.generation_tokens += generated
            self.success[reason] += 1
            self.http_requests += 1
            self.prompt_hist.observe(prompt)
            self.generation_hist.observe(generated)
            self.e2e_hist.observe(seconds if seconds is not None else generated / 60)
            self.ttft_hist.observe(ttft if ttft is not None else 0.03)

    def simulate(self, seconds: float) -> None:
        """Add the background traffic of ``seconds`` (Poisson-ish arrivals)."""
        expected = self.rate_per_minute * seconds / 60
        arrivals = int(expected) + (self.random.random() < expected % 1)
        for _ in range(arrivals):
            prompt = int(self.random.lognormvariate(6.5, 0.6))
            generated = int(self.random.lognormvariate(5.2, 0.7))
            reason = "length" if self.random.random() < 0.08 else "stop"
            self.record(
                prompt,
                generated,
                reason=reason,
                seconds=generated / self.random.uniform(40, 90),
                ttft=self.random.uniform(0.02, 0.3),
            )

    def exposition(self) -> str:
        with self.lock:
            return self._exposition()

    def _exposition(self) -> str:
        lines: list[str] = []
        base = {"engine": "0", "model_name": self.model}

        def labels(**extra: str) -> str:
            merged = {**base, **extra}
            return ",".join(f'{k}="{v}"' for k, v in sorted(merged.items()))

        def gauge(name: str, help_text: str, value: float) -> None:
            lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} gauge"])
            lines.append(f"{name}{{{labels()}}} {float(value)}")

        def counter(name: str, help_text: str, rows: list[tuple[str, float]]) -> None:
            lines.extend(
                [f"# HELP {name}_total {help_text}", f"# TYPE {name}_total counter"]
            )
            lines.extend(f"{name}_total{{{lbl}}} {float(v)}" for lbl, v in rows)
            lines.extend(
                [f"# HELP {name}_created {help_text}", f"# TYPE {name}_created gauge"]
            )
            lines.extend(f"{name}_created{{{lbl}}} {self.created}" for lbl, _ in rows)

        def histogram(name: str, help_text: str, hist: Histogram) -> None:
            lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} histogram"])
            for bound, count in zip(hist.bounds, hist.counts, strict=True):
                lines.append(
                    f"{name}_bucket{{{labels(le=str(float(bound)))}}} {count}.0"
                )
            lines.append(f"{name}_bucket{{{labels(le='+Inf')}}} {hist.count}.0")
            lines.append(f"{name}_count{{{labels()}}} {hist.count}.0")
            lines.append(f"{name}_sum{{{labels()}}} {hist.total}")
            lines.extend(
                [f"# HELP {name}_created {help_text}", f"# TYPE {name}_created gauge"]
            )
            lines.append(f"{name}_created{{{labels()}}} {self.created}")

        waiting = max(0, self.running - 4)
        gauge(
            "vllm:num_requests_running",
            "Number of requests in model execution batches.",
            min(self.running, 4),
        )
        gauge(
            "vllm:num_requests_waiting",
            "Number of requests waiting to be processed.",
            waiting,
        )
        gauge(
            "vllm:kv_cache_usage_perc",
            "KV-cache usage. 1 means 100 percent usage.",
            min(1.0, 0.02 + 0.05 * self.running),
        )
        counter(
            "vllm:prompt_tokens",
            "Number of prefill tokens processed.",
            [(labels(), self.prompt_tokens)],
        )
        counter(
            "vllm:generation_tokens",
            "Number of generation tokens processed.",
            [(labels(), self.generation_tokens)],
        )
        counter(
            "vllm:request_success",
            "Count of successfully processed requests.",
            [(labels(finished_reason=r), v) for r, v in self.success.items()],
        )
        histogram(
            "vllm:request_prompt_tokens",
            "Number of prefill tokens processed.",
            self.prompt_hist,
        )
        histogram(
            "vllm:request_generation_tokens",
            "Number of generation tokens processed.",
            self.generation_hist,
        )
        histogram(
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            self.e2e_hist,
        )
        histogram(
            "vllm:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            self.ttft_hist,
        )
        lines.extend(
            [
                "# HELP http_requests_total Total number of requests by method, "
                "status and handler.",
                "# TYPE http_requests_total counter",
                'http_requests_total{handler="/v1/chat/completions",method="POST",'
                f'status="2xx"}} {float(self.http_requests)}',
            ]
        )
        return "\n".join(lines) + "\n"


def canned_answer(model: str, messages: list[Any]) -> str:
    """An echo-ish reply, so each model's column in the playground differs."""
    last = ""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):  # content parts
                content = " ".join(
                    str(part.get("text", ""))
                    for part in content
                    if isinstance(part, dict)
                )
            last = str(content or "")
            break
    words = last.split()
    quoted = " ".join(words[:12]) + (" …" if len(words) > 12 else "")
    return (
        f"This is {model} (a fake vLLM server for demos). You asked: "
        f'"{quoted}". A real model would answer here; this one counts the tokens '
        "so the portal can show usage, cost and latency."
    )


def count_tokens(text: str) -> int:
    """A rough token count: about four tokens for every three words."""
    return max(1, round(len(text.split()) * 4 / 3))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-vllm/0.1"
    engine: Engine
    served_model: str
    api_key: str | None
    token_delay: float
    max_model_len: int

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"fake-vllm {self.address_string()} {format % args}\n")

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._send(
                200, self.engine.exposition().encode(), "text/plain; version=0.0.4"
            )
        elif path == "/health":
            self._send(200, b"", "text/plain")
        elif path in ("/v1/models", "/models"):
            if self._authorised():
                self._json(200, self._models())
        else:
            self._json(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self._json(404, {"detail": "Not Found"})
            return
        if not self._authorised():
            return
        try:
            payload = json.loads(raw or b"{}")
            messages = payload["messages"]
        except (ValueError, KeyError, TypeError):
            self._json(400, _error("Invalid request body: 'messages' is required."))
            return
        model = payload.get("model") or self.served_model
        if model != self.served_model:
            self._json(
                404, _error(f"The model `{model}` does not exist.", "NotFoundError")
            )
            return
        self._chat(payload, messages)

    def _chat(self, payload: dict[str, Any], messages: list[Any]) -> None:
        started = time.monotonic()
        answer = canned_answer(self.served_model, messages)
        words = answer.split(" ")
        max_tokens = payload.get("max_tokens") or payload.get("max_completion_tokens")
        reason = "stop"
        if (
            isinstance(max_tokens, int)
            and max_tokens > 0
            and count_tokens(answer) > max_tokens
        ):
            words = words[: max(1, max_tokens * 3 // 4)]
            reason = "length"
        prompt_text = " ".join(
            str(m.get("content", "")) for m in messages if isinstance(m, dict)
        )
        prompt_tokens = count_tokens(prompt_text) + 4 * len(messages)
        completion_tokens = count_tokens(" ".join(words))
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        ident = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        with self.engine.lock:
            self.engine.running += 1
        try:
            if payload.get("stream"):
                options = payload.get("stream_options") or {}
                include_usage = bool(options.get("include_usage"))
                first_token_at = self._stream(
                    ident, created, words, reason, usage if include_usage else None
                )
            else:
                time.sleep(self.token_delay * len(words))
                first_token_at = time.monotonic()
                self._json(200, self._completion(ident, created, words, reason, usage))
        finally:
            with self.engine.lock:
                self.engine.running -= 1
        elapsed = time.monotonic() - started
        self.engine.record(
            prompt_tokens,
            completion_tokens,
            reason=reason,
            seconds=elapsed,
            ttft=first_token_at - started,
        )

    def _completion(
        self,
        ident: str,
        created: int,
        words: list[str],
        reason: str,
        usage: dict[str, int],
    ) -> dict[str, Any]:
        return {
            "id": ident,
            "object": "chat.completion",
            "created": created,
            "model": self.served_model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": " ".join(words)},
                    "logprobs": None,
                    "finish_reason": reason,
                }
            ],
            "usage": usage,
        }

    def _stream(
        self,
        ident: str,
        created: int,
        words: list[str],
        reason: str,
        usage: dict[str, int] | None,
    ) -> float:
        """Stream the answer; return when the first token went out."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        first_token_at = time.monotonic()
        try:
            for index, event in enumerate(
                self._events(ident, created, words, reason, usage)
            ):
                self._chunk(event)
                if index == 1:
                    first_token_at = time.monotonic()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away mid-stream
        return first_token_at

    def _events(
        self,
        ident: str,
        created: int,
        words: list[str],
        reason: str,
        usage: dict[str, int] | None,
    ) -> Iterator[bytes]:
        def event(choices: list[Any], **extra: Any) -> bytes:
            chunk = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.served_model,
                "choices": choices,
                **extra,
            }
            return f"data: {json.dumps(chunk)}\n\n".encode()

        yield event([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
        for index, word in enumerate(words):
            time.sleep(self.token_delay)
            text = word if index == 0 else f" {word}"
            yield event(
                [{"index": 0, "delta": {"content": text}, "finish_reason": None}]
            )
        yield event([{"index": 0, "delta": {}, "finish_reason": reason}])
        if usage is not None:
            yield event([], usage=usage)
        yield b"data: [DONE]\n\n"

    def _models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": self.served_model,
                    "object": "model",
                    "created": int(self.engine.created),
                    "owned_by": "vllm",
                    "root": self.served_model,
                    "parent": None,
                    "max_model_len": self.max_model_len,
                }
            ],
        }

    def _authorised(self) -> bool:
        if not self.api_key:
            return True
        if self.headers.get("authorization", "") == f"Bearer {self.api_key}":
            return True
        self._json(401, {"error": "Unauthorized"})
        return False

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _json(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def _error(message: str, kind: str = "BadRequestError") -> dict[str, Any]:
    return {"object": "error", "message": message, "type": kind, "code": 400}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101, help="0 picks a free one")
    parser.add_argument("--model", default="meta-llama/Llama-3.1-8B-Instruct")
    parser.add_argument("--api-key", default=None, help="require this bearer key")
    parser.add_argument(
        "--rate",
        type=float,
        default=30.0,
        help="simulated background requests a minute (0 for none)",
    )
    parser.add_argument(
        "--token-delay", type=float, default=0.03, help="seconds between streamed words"
    )
    parser.add_argument(
        "--reset-every",
        type=float,
        default=0.0,
        help="simulate a restart every N seconds (0 for never)",
    )
    parser.add_argument("--max-model-len", type=int, default=131072)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    engine = Engine(args.model, args.rate, args.seed)
    handler = type(
        "ConfiguredHandler",
        (Handler,),
        {
            "engine": engine,
            "served_model": args.model,
            "api_key": args.api_key,
            "token_delay": args.token_delay,
            "max_model_len": args.max_model_len,
        },
    )
    httpd = ThreadingHTTPServer((args.host, args.port), handler)
    httpd.daemon_threads = True
    stop = threading.Event()

    def traffic() -> None:
        last_reset = time.monotonic()
        while not stop.wait(1.0):
            if args.reset_every and time.monotonic() - last_reset >= args.reset_every:
                engine.reset()
                last_reset = time.monotonic()
            engine.simulate(1.0)

    threading.Thread(target=traffic, name="traffic", daemon=True).start()

    def shutdown(signum: int, frame: Any) -> None:
        stop.set()
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    port = httpd.server_address[1]  # the real one when --port 0
    print(
        f"fake vLLM serving {args.model} on http://{args.host}:{port} "
        "(/metrics, /v1/models, /v1/chat/completions, /health)",
        flush=True,
    )
    httpd.serve_forever(poll_interval=0.1)
    httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
