"""The gateway's overhead against calling the model server directly, and against LiteLLM.

Four processes on loopback: one OpenAI-compatible model server (the upstream:
``--first-token`` to the first chunk, then ``--chunks`` chunks, a usage chunk
when ``stream_options.include_usage`` asks for one, and non-streaming answers
with usage after the same first-token delay), the portal under uvicorn
(``portal.asgi``, one worker, ``DEBUG=0``) with an approved use-case routed to
that upstream and a gateway key, the LiteLLM proxy (``litellm --config``, the
upstream as ``openai/<model>`` with its ``api_base``) when it is installed, and
this client. Three paths reach the same upstream: direct, through the gateway,
through LiteLLM.

Rounds interleave the paths (their order rotates every round), so the machine's
drift hits all alike. Each round, each path gets ``--stream`` sequential
streaming requests, then ``--requests`` non-streaming ones over 8 concurrent
connections. Printed, medians and ranges over the rounds:

- time to first token (request sent → first content) and the overhead against
  direct, p50 and p95;
- stream-close overhead: request sent → stream closed, against direct (what the
  relay and the metering add by the end of a stream), p50 and p95; and the tail
  (last token → stream closed) against direct;
- server CPU per request: ``utime + stime`` of the server process (and its
  children) from ``/proc/<pid>/stat``, summed over its own requests only, ÷
  requests;
- non-streaming requests a second with 8 connections.

Targets, printed next to the results: the gateway's TTFT overhead p50 and CPU
per request no more than LiteLLM's; its stream-close overhead within 2 ms of its
TTFT overhead (metering never holds the end of a stream); its throughput at
least LiteLLM's.

    .venv/bin/python bench/gateway.py [--rounds 10] [--stream 25] [--requests 200]
        [--first-token 0.02] [--chunks 50] [--chunk-interval 0.001]
        [--litellm PATH | --no-litellm]

LiteLLM comes from the bench extra (``pip install -e '.[bench]'``) or, to keep
its pins out of the project's environment, from a venv of its own passed with
``--litellm /path/to/venv/bin/litellm`` (or ``LITELLM_BIN``). Without it the
LiteLLM path is skipped with a message. Uses its own SQLite database in a
temporary folder. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "bench-model"
CONCURRENCY = 8
TICKS = os.sysconf("SC_CLK_TCK")
MESSAGES = [
    {"role": "system", "content": "You route insurance claims."},
    {
        "role": "user",
        "content": "Which queue does this claim go to? A van hit a fence.",
    },
]
FIELD_KEY = "YmVuY2gtb25seS1maWVsZC1lbmNyeXB0aW9uLWtleS0="  # 32 bytes, bench only


# The upstream: a minimal OpenAI-compatible server on asyncio streams, in its own
# process so that its CPU is nobody's figure.


def serve_upstream(
    port_out: Any, first_token: float, chunks: int, interval: float
) -> None:
    """Serve ``POST /v1/chat/completions`` (streaming or not), ``GET /v1/models``."""

    def chunk(payload: dict[str, Any]) -> bytes:
        data = b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    def usage(completion: int) -> dict[str, int]:
        return {
            "prompt_tokens": 42,
            "completion_tokens": completion,
            "total_tokens": 42 + completion,
        }

    async def completion(writer: asyncio.StreamWriter, body: dict[str, Any]) -> None:
        created = int(time.time())
        ident = f"chatcmpl-{time.perf_counter_ns()}"
        await asyncio.sleep(first_token)
        if not body.get("stream"):
            payload = json.dumps(
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": created,
                    "model": body.get("model", MODEL),
                    "choices": [
                        {
                            "index": 0,
                            "message": {
                                "role": "assistant",
                                "content": " ".join(f"tok{i}" for i in range(chunks)),
                            },
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage(chunks),
                }
            ).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
            return
        base = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.get("model", MODEL),
        }
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
            b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for i in range(chunks):
            delta: dict[str, str] = {"content": f"tok{i} "}
            if i == 0:
                delta["role"] = "assistant"
            writer.write(
                chunk(
                    {
                        **base,
                        "choices": [
                            {"index": 0, "delta": delta, "finish_reason": None}
                        ],
                    }
                )
            )
            await writer.drain()
            if interval and i < chunks - 1:
                await asyncio.sleep(interval)
        final = [{"index": 0, "delta": {}, "finish_reason": "stop"}]
        writer.write(chunk({**base, "choices": final}))
        if (body.get("stream_options") or {}).get("include_usage"):
            writer.write(chunk({**base, "choices": [], "usage": usage(chunks)}))
        done = b"data: [DONE]\n\n"
        writer.write(f"{len(done):x}\r\n".encode() + done + b"\r\n0\r\n\r\n")
        await writer.drain()

    def plain(writer: asyncio.StreamWriter, status: str, payload: bytes) -> None:
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )

    async def handle(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target = lines[0].split(" ")[:2]
                length, close = 0, False
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    name = name.strip().lower()
                    if name == "content-length":
                        length = int(value)
                    elif name == "connection" and value.strip().lower() == "close":
                        close = True
                raw = await reader.readexactly(length) if length else b""
                path = target.split("?")[0]
                if method == "POST" and path.endswith("/chat/completions"):
                    await completion(writer, json.loads(raw))
                elif method == "GET" and path.endswith("/models"):
                    data = {
                        "object": "list",
                        "data": [{"id": MODEL, "object": "model"}],
                    }
                    plain(writer, "200 OK", json.dumps(data).encode())
                elif path == "/health":
                    plain(writer, "200 OK", b"{}")
                else:
                    plain(writer, "404 Not Found", b'{"error": "not found"}')
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
        port_out.put(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


# Processes.


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited: {log.read_text()[-3000:]}")
        try:
            httpx.get(url, timeout=2.0)
            return
        except httpx.HTTPError:
            time.sleep(0.25)
    raise SystemExit(f"{url} did not come up: {log.read_text()[-3000:]}")


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a server may fork workers)."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return pids


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its descendants, from /proc (fields 14, 15)."""
    total = 0
    for each in process_tree(pid):
        try:
            stat = Path(f"/proc/{each}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def prepare_gateway(upstream: str) -> str:
    """Migrate; an approved use-case routed to the upstream, and its key's secret."""
    import django

    django.setup()
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connections

    from apps.accounts.models import Team, User
    from apps.endpoints.models import ServingEndpoint
    from apps.gateway.keys import issue_gateway_key
    from apps.reviews.models import Decision
    from apps.usecases.models import UseCase, Workload

    call_command("migrate", verbosity=0, interactive=False)
    team, _ = Team.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    owner, _ = User.objects.get_or_create(
        username="bench-owner", defaults={"team": team}
    )
    owner.groups.add(Group.objects.get(name="requester"))
    board, _ = User.objects.get_or_create(username="bench-board")
    board.groups.add(Group.objects.get(name="board"))
    endpoint = ServingEndpoint.objects.create(
        name="Bench upstream",
        kind="vllm",
        base_url=upstream,
        location="in_house",
        served_models=[MODEL],
    )
    use_case = UseCase.objects.create(
        title="Bench claims router",
        description="Routes claims; the gateway benchmark's use-case.",
        owner=owner,
        team=team,
        status="approved",
        data_classification="internal",
        requests_per_day=20_000,
        avg_input_tokens=1_500,
        avg_output_tokens=500,
        capability_need="standard",
        context_tokens=8_000,
        mlops_readiness="established",
        horizon="production",
    )
    Workload.objects.create(use_case=use_case, task_type="classification", share=100)
    Decision.objects.create(
        use_case=use_case,
        outcome="approved",
        pattern="self_hosted",
        routes=[
            {
                "workload": "classification",
                "targets": [{"endpoint": endpoint.pk, "model": MODEL, "weight": 1}],
                "fallback": [],
            }
        ],
        decided_by=board,
    )
    _, secret = issue_gateway_key(use_case=use_case, name="bench", by=owner)
    connections.close_all()
    return secret


def find_litellm(option: str | None) -> str | None:
    if option:
        return option if Path(option).exists() else shutil.which(option)
    if os.environ.get("LITELLM_BIN"):
        return os.environ["LITELLM_BIN"]
    beside = Path(sys.executable).parent / "litellm"
    return str(beside) if beside.exists() else shutil.which("litellm")


def start_litellm(
    binary: str,
    folder: Path,
    upstream: str,
    env: dict[str, str],
    timeout: float = 120.0,
) -> tuple[subprocess.Popen[bytes], str, Path]:
    config = folder / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        f"      model: openai/{MODEL}\n"
        f"      api_base: {upstream}/v1\n"
        "      api_key: sk-upstream\n"
        "general_settings:\n"
        "  master_key: sk-bench-master\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )
    port = free_port()
    log = folder / "litellm.log"
    process = subprocess.Popen(
        [binary, "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        cwd=folder,
        env={
            **env,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch at start-up
            "LITELLM_LOG": "ERROR",
            "LITELLM_TELEMETRY": "False",
        },
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(f"{url}/health/liveliness", process, log, timeout)
    return process, url, log


# The client.


@dataclass
class Round:
    """One path's figures in one round (times in ms from sending the request)."""

    ttft: list[float]
    closed: list[float]
    tail: list[float]
    stream_cpu_ms: float  # per streaming request
    plain_cpu_ms: float  # per non-streaming request
    rate: float  # non-streaming requests a second
    errors: int


@dataclass
class Lane:
    """One way to reach the upstream, and what it measured."""

    name: str
    url: str
    headers: dict[str, str]
    pid: int | None = None
    rounds: list[Round] = field(default_factory=list)

    def cpu(self) -> float:
        return cpu_seconds(self.pid) if self.pid else 0.0

    def pooled(self, metric: str) -> list[float]:
        return [value for r in self.rounds for value in getattr(r, metric)]


def body(stream: bool) -> dict[str, Any]:
    payload: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "max_tokens": 64}
    if stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return payload


def stream_once(
    client: httpx.Client, lane: Lane, chunks: int
) -> tuple[float, float, float]:
    """(first token, last token, stream closed) in ms from sending the request."""
    first = last = None
    tokens = 0
    started = time.perf_counter()
    with client.stream("POST", lane.url, json=body(True), headers=lane.headers) as r:
        if r.status_code != 200:
            raise SystemExit(f"{lane.name} answered {r.status_code}: {r.read()!r}")
        for line in r.iter_lines():
            if not line.startswith("data: {") or '"content"' not in line:
                continue
            choices = json.loads(line[6:]).get("choices") or [{}]
            if (choices[0].get("delta") or {}).get("content"):
                last = time.perf_counter()
                tokens += 1
                if first is None:
                    first = last
    closed = time.perf_counter()
    if first is None or last is None or tokens != chunks:
        raise SystemExit(f"{lane.name}: {tokens} tokens streamed, not {chunks}")
    return (
        (first - started) * 1000,
        (last - started) * 1000,
        (closed - started) * 1000,
    )


async def load(lane: Lane, requests: int) -> tuple[float, int]:
    """Non-streaming requests over 8 connections: (requests a second, errors)."""
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=60.0) as client:
        payload = json.dumps(body(False)).encode()
        headers = {**lane.headers, "content-type": "application/json"}
        errors = 0

        async def one() -> None:
            nonlocal errors
            response = await client.post(lane.url, content=payload, headers=headers)
            if response.status_code != 200 or b'"usage"' not in response.content:
                errors += 1

        await asyncio.gather(*(one() for _ in range(CONCURRENCY)))  # open them
        left = requests

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await one()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return requests / (time.perf_counter() - started), errors


def run_round(
    lanes: list[Lane], order: list[int], args: argparse.Namespace, keep: bool
) -> None:
    """Each lane in ``order``: its streams one by one, then its load."""
    for index in order:
        lane = lanes[index]
        with httpx.Client(timeout=60.0) as client:
            stream_once(client, lane, args.chunks)  # a warm connection
            before = lane.cpu()
            rows = [stream_once(client, lane, args.chunks) for _ in range(args.stream)]
            stream_cpu = lane.cpu() - before
        before = lane.cpu()
        rate, errors = asyncio.run(load(lane, args.requests))
        plain_cpu = lane.cpu() - before
        if keep:
            lane.rounds.append(
                Round(
                    ttft=[first for first, _, _ in rows],
                    closed=[closed for _, _, closed in rows],
                    tail=[closed - last for _, last, closed in rows],
                    stream_cpu_ms=stream_cpu / args.stream * 1000,
                    plain_cpu_ms=plain_cpu / (args.requests + CONCURRENCY) * 1000,
                    rate=rate,
                    errors=errors,
                )
            )


# Report.


def pct(values: list[float], q: int) -> float:
    if q == 50:
        return statistics.median(values)
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def spread(values: list[float]) -> str:
    """Median over the rounds, and their range."""
    return (
        f"{statistics.median(values):7.2f} ({min(values):6.2f} to {max(values):6.2f})"
    )


def overheads(lane: Lane, direct: Lane, metric: str, q: int) -> list[float]:
    """Per round: the lane's percentile minus direct's in the same round."""
    return [
        pct(getattr(mine, metric), q) - pct(getattr(theirs, metric), q)
        for mine, theirs in zip(lane.rounds, direct.rounds, strict=True)
    ]


def report(lanes: list[Lane], args: argparse.Namespace) -> int:
    direct = lanes[0]
    by_name = {lane.name: lane for lane in lanes}
    gateway, litellm = by_name["gateway"], by_name.get("litellm")
    print(
        f"\n{args.rounds} interleaved rounds; per path {args.rounds * args.stream} "
        f"streaming requests and {args.rounds * args.requests} non-streaming ones. "
        f"Upstream: {args.first_token * 1000:g} ms to the first chunk, then "
        f"{args.chunks} chunks {args.chunk_interval * 1000:g} ms apart. Figures: "
        "median over the rounds (range)."
    )
    titles = {
        "ttft": "time to first token",
        "closed": "stream-close: request sent → stream closed",
        "tail": "tail: last token → stream closed",
    }
    for metric, title in titles.items():
        print(f"\n{title}, ms")
        print(f"  {'':10} {'p50 (all rounds)':>16} {'p95':>8}   overhead vs direct")
        for lane in lanes:
            values = lane.pooled(metric)
            line = f"  {lane.name:<10} {pct(values, 50):16.2f} {pct(values, 95):8.2f}"
            if lane is not direct:
                line += (
                    f"   p50 {spread(overheads(lane, direct, metric, 50))}"
                    f"   p95 {spread(overheads(lane, direct, metric, 95))}"
                )
            print(line)

    print("\nserver CPU per request, ms (utime + stime of the server process)")
    for lane in lanes[1:]:
        print(
            f"  {lane.name:<10} streaming {spread([r.stream_cpu_ms for r in lane.rounds])}"
            f"   non-streaming {spread([r.plain_cpu_ms for r in lane.rounds])}"
        )
    print(f"\nnon-streaming requests a second, {CONCURRENCY} connections")
    for lane in lanes:
        errors = sum(r.errors for r in lane.rounds)
        print(
            f"  {lane.name:<10} {spread([r.rate for r in lane.rounds])}"
            + (f"   {errors} errors" if errors else "")
        )

    def median(values: list[float]) -> float:
        return statistics.median(values)

    ttft_gw = median(overheads(gateway, direct, "ttft", 50))
    close_gw = median(overheads(gateway, direct, "closed", 50))
    checks = [
        (
            f"gateway stream-close overhead p50 {close_gw:.2f} ms within 2 ms of its "
            f"TTFT overhead p50 {ttft_gw:.2f} ms",
            close_gw <= ttft_gw + 2.0,
        )
    ]
    if litellm is not None:
        ttft_ll = median(overheads(litellm, direct, "ttft", 50))
        cpu = {
            lane.name: (
                median([r.stream_cpu_ms for r in lane.rounds]),
                median([r.plain_cpu_ms for r in lane.rounds]),
            )
            for lane in (gateway, litellm)
        }
        rate_gw = median([r.rate for r in gateway.rounds])
        rate_ll = median([r.rate for r in litellm.rounds])
        checks += [
            (
                f"TTFT overhead p50: gateway {ttft_gw:.2f} ms ≤ LiteLLM {ttft_ll:.2f} ms",
                ttft_gw <= ttft_ll,
            ),
            (
                f"CPU per streaming request: gateway {cpu['gateway'][0]:.2f} ms ≤ "
                f"LiteLLM {cpu['litellm'][0]:.2f} ms",
                cpu["gateway"][0] <= cpu["litellm"][0],
            ),
            (
                f"CPU per non-streaming request: gateway {cpu['gateway'][1]:.2f} ms ≤ "
                f"LiteLLM {cpu['litellm'][1]:.2f} ms",
                cpu["gateway"][1] <= cpu["litellm"][1],
            ),
            (
                f"throughput: gateway {rate_gw:.1f}/s ≥ LiteLLM {rate_ll:.1f}/s",
                rate_gw >= rate_ll,
            ),
        ]
    print("\ntargets")
    for text, ok in checks:
        print(f"  {'OK  ' if ok else 'MISS'} {text}")
    if litellm is None:
        print("  (the comparisons with LiteLLM were skipped: not installed)")
    return 0 if all(ok for _, ok in checks) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup-rounds", type=int, default=1)
    parser.add_argument("--stream", type=int, default=25, help="streams a round")
    parser.add_argument(
        "--requests", type=int, default=200, help="non-streaming a round"
    )
    parser.add_argument("--first-token", type=float, default=0.02, help="seconds")
    parser.add_argument("--chunks", type=int, default=50)
    parser.add_argument("--chunk-interval", type=float, default=0.001, help="seconds")
    parser.add_argument("--litellm", help="the litellm executable")
    parser.add_argument("--no-litellm", action="store_true")
    parser.add_argument(
        "--show-pids", action="store_true", help="print the server pids (to profile)"
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="portal-bench-gateway-"))
    # LiteLLM reads DATABASE_URL too (PostgreSQL only): it gets none of ours.
    outside = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env = {
        **os.environ,
        "PORTAL_VAR_DIR": str(folder),
        "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
        "DJANGO_SETTINGS_MODULE": os.environ.get(
            "DJANGO_SETTINGS_MODULE", "portal.settings"
        ),
        "DEBUG": "0",
        "SECRET_KEY": "bench-only-secret-key-" + "x" * 40,
        "FIELD_ENCRYPTION_KEY": FIELD_KEY,
        "ALLOWED_HOSTS": "127.0.0.1",
        "ENDPOINT_ALLOWED_NETWORKS": "127.0.0.0/8",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "LOG_LEVEL": "WARNING",
        "GATEWAY_SPOOL_DIR": str(folder / "spool"),
    }
    env.pop("CACHE_URL", None)
    os.environ.update(env)

    context = multiprocessing.get_context("spawn")
    port_queue = context.Queue()
    upstream_process = context.Process(
        target=serve_upstream,
        args=(port_queue, args.first_token, args.chunks, args.chunk_interval),
        daemon=True,
    )
    upstream_process.start()
    upstream = f"http://127.0.0.1:{port_queue.get(timeout=60)}"
    secret = prepare_gateway(upstream)

    litellm_bin = None if args.no_litellm else find_litellm(args.litellm)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        port = free_port()
        log = folder / "uvicorn.log"
        uvicorn = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "uvicorn"),
                "portal.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        processes.append(uvicorn)
        gateway_url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{gateway_url}/healthz", uvicorn, log)
        lanes = [
            Lane("direct", f"{upstream}/v1/chat/completions", {}),
            Lane(
                "gateway",
                f"{gateway_url}/gateway/v1/chat/completions",
                {"authorization": f"Bearer {secret}"},
                pid=uvicorn.pid,
            ),
        ]
        if litellm_bin:
            litellm, litellm_url, _ = start_litellm(
                litellm_bin, folder, upstream, outside
            )
            processes.append(litellm)
            lanes.append(
                Lane(
                    "litellm",
                    f"{litellm_url}/v1/chat/completions",
                    {"authorization": "Bearer sk-bench-master"},
                    pid=litellm.pid,
                )
            )
        else:
            print(
                "LiteLLM is not installed: its path is skipped. Install the bench "
                "extra (pip install -e '.[bench]') or pass --litellm "
                "/path/to/venv/bin/litellm."
            )
        if args.show_pids:
            pids = {lane.name: lane.pid for lane in lanes if lane.pid}
            print(f"server pids: {pids}", file=sys.stderr, flush=True)
        for number in range(args.warmup_rounds + args.rounds):
            order = list(range(len(lanes)))
            shift = number % len(order)
            order = order[shift:] + order[:shift]
            run_round(lanes, order, args, keep=number >= args.warmup_rounds)
            print(
                f"round {number + 1}/{args.warmup_rounds + args.rounds} done",
                file=sys.stderr,
                flush=True,
            )
        return report(lanes, args)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        upstream_process.terminate()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
