"""The playground's stream against calling the model server directly, and against LiteLLM.

Four processes on loopback, as in bench/gateway.py (whose upstream and LiteLLM
start-up this reuses): one OpenAI-compatible model server (``--first-token`` to
the first chunk, then ``--chunks`` chunks and a usage chunk), the portal under
uvicorn (``portal.asgi``, one worker, ``DEBUG=0``) with a signed-in requester
and an ``openai_compatible`` in-house endpoint with an hourly cost (the case
where the portal records its own usage, and spreads the hardware cost over
it), the LiteLLM proxy on the same upstream when it is installed, and this
client. Three paths reach the same upstream: direct, a playground run (the
streaming view: session, guard, rate limit, saved run, usage through the
ledger's writer), and LiteLLM.

Rounds interleave the paths (their order rotates every round); each round each
path streams ``--stream`` answers one after the other. All playground runs are
on the same day, so by the end the endpoint has ``rounds x stream`` runs that
day (300 by default). Printed, medians and ranges over the rounds:

- time to first token overhead (request sent → first content, minus direct's
  median that round), playground against LiteLLM, and their ratio (target
  ≤ 1.0 x);
- stream-close tail (last token → stream closed), playground against LiteLLM,
  and their ratio (target ≤ 1.5 x), also by blocks of runs that day (flat:
  recording a run does not grow with the runs before it);
- whether the ledger counted every run exactly once (its writer's flusher runs
  in the portal process, off the request path).

    .venv/bin/python bench/playground.py [--rounds 12] [--stream 25]
        [--first-token 0.02] [--chunks 20] [--litellm PATH | --no-litellm]

LiteLLM as in bench/gateway.py: the bench extra, ``--litellm``, or
``LITELLM_BIN``; skipped with a message when absent. Uses its own SQLite
database in a temporary folder. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.gateway import (  # noqa: E402  (after the path is set)
    FIELD_KEY,
    MESSAGES,
    MODEL,
    find_litellm,
    free_port,
    serve_upstream,
    start_litellm,
    wait_until_up,
)

TTFT_TARGET = 1.0
TAIL_TARGET = 1.5


def prepare_portal(upstream: str) -> tuple[str, int]:
    """Migrate; a requester's session and an endpoint on the upstream."""
    import django

    django.setup()
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connections
    from django.test import Client

    from apps.accounts.models import User
    from apps.endpoints.models import ServingEndpoint

    call_command("migrate", verbosity=0, interactive=False)
    user, _ = User.objects.get_or_create(username="bench-requester")
    user.groups.add(Group.objects.get(name="requester"))
    endpoint = ServingEndpoint.objects.create(
        name="Bench model server",
        kind="openai_compatible",
        base_url=f"{upstream}/v1",
        location="in_house",
        hourly_cost=2.5,
        served_models=[MODEL],
    )
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    connections.close_all()
    return session, endpoint.pk


@dataclass
class Lane:
    name: str
    rounds: list[dict[str, list[float]]] = field(default_factory=list)

    def pooled(self, metric: str) -> list[float]:
        return [v for r in self.rounds for v in r[metric]]


def timed_lines(response: httpx.Response, is_token) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    first = last = None
    tokens = 0
    for line in response.iter_lines():
        if is_token(line):
            last = time.perf_counter()
            tokens += 1
            if first is None:
                first = last
    assert first is not None and last is not None, "no token streamed"
    return first, last, tokens


def openai_token(line: str) -> bool:
    if not line.startswith("data: {") or '"content"' not in line:
        return False
    choices = json.loads(line[6:]).get("choices") or [{}]
    return bool((choices[0].get("delta") or {}).get("content"))


def stream_openai(
    client: httpx.Client, url: str, headers: dict[str, str]
) -> tuple[float, float, float]:
    body = {
        "model": MODEL,
        "messages": MESSAGES,
        "max_tokens": 64,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    with client.stream("POST", url, json=body, headers=headers) as response:
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        first, last, _ = timed_lines(response, openai_token)
    closed = time.perf_counter()
    return (first - started) * 1000, (last - started) * 1000, (closed - started) * 1000


def stream_playground(
    client: httpx.Client, csrf: str, endpoint_id: int
) -> tuple[float, float, float]:
    form = {
        "csrfmiddlewaretoken": csrf,
        "system_prompt": MESSAGES[0]["content"],
        "prompt": MESSAGES[1]["content"],
        "temperature": "0.2",
        "max_tokens": "64",
        "data_classification": "internal",
        "target": [f"{endpoint_id}:{MODEL}"],
    }
    started = time.perf_counter()
    with client.stream(
        "POST", "/playground/stream/", data=form, headers={"X-CSRFToken": csrf}
    ) as response:
        if response.status_code != 200:
            raise SystemExit(f"the playground answered {response.status_code}")
        first, last, _ = timed_lines(response, lambda line: line == "event: delta")
    closed = time.perf_counter()
    return (first - started) * 1000, (last - started) * 1000, (closed - started) * 1000


def spread(values: list[float]) -> str:
    return (
        f"{statistics.median(values):7.2f} ({min(values):6.2f} to {max(values):6.2f})"
    )


def ledger_runs() -> tuple[int, int, int]:
    """(answers saved, calls in the ledger, requests in the daily rollups)."""
    from django.db import connections
    from django.db.models import Sum

    from apps.endpoints.models import DailyUsage, PortalCall
    from apps.playground.models import RunOutput

    connections.close_all()
    saved = RunOutput.objects.filter(status="done").count()
    rolled_up = DailyUsage.objects.aggregate(n=Sum("requests"))["n"] or 0
    return saved, PortalCall.objects.count(), rolled_up


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--stream", type=int, default=25, help="streams a round")
    parser.add_argument("--first-token", type=float, default=0.02, help="seconds")
    parser.add_argument("--chunks", type=int, default=20)
    parser.add_argument("--chunk-interval", type=float, default=0.001)
    parser.add_argument("--litellm", help="the litellm executable")
    parser.add_argument("--no-litellm", action="store_true")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="portal-bench-playground-"))
    outside = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env = {
        **os.environ,
        "PORTAL_VAR_DIR": str(folder),
        "DATABASE_URL": f"sqlite:///{folder}/bench.sqlite3",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
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
        # The bench sends far more than a person would; lift the per-user limit.
        "PLAYGROUND_THROTTLE_RATE": "1000000/minute",
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
    session, endpoint_id = prepare_portal(upstream)
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
        portal_url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{portal_url}/healthz", uvicorn, log)
        litellm_url = None
        if litellm_bin:
            # Its start-up takes minutes on a loaded machine.
            litellm, litellm_url, _ = start_litellm(
                litellm_bin, folder, upstream, outside, timeout=600.0
            )
            processes.append(litellm)
        else:
            print(
                "LiteLLM is not installed: its path is skipped. Install the bench "
                "extra (pip install -e '.[bench]') or pass --litellm "
                "/path/to/venv/bin/litellm."
            )

        direct_client = httpx.Client(timeout=60.0)
        litellm_client = httpx.Client(timeout=60.0)
        # A CSRF secret of our own, as cookie and header (Django compares the
        # two): pages are not rendered with DEBUG=0 and no collected statics.
        csrf = secrets.token_hex(16)
        portal_client = httpx.Client(
            base_url=portal_url,
            cookies={"sessionid": session, "csrftoken": csrf},
            timeout=60.0,
        )
        paths = {
            "direct": lambda: stream_openai(
                direct_client, f"{upstream}/v1/chat/completions", {}
            ),
            "playground": lambda: stream_playground(portal_client, csrf, endpoint_id),
        }
        if litellm_url:
            paths["litellm"] = lambda: stream_openai(
                litellm_client,
                f"{litellm_url}/v1/chat/completions",
                {"authorization": "Bearer sk-bench-master"},
            )
        lanes = {name: Lane(name) for name in paths}
        for name in paths:  # warm connections and caches; not counted
            for _ in range(3):
                paths[name]()
        warm_runs = 3
        names = list(paths)
        for number in range(args.rounds):
            shift = number % len(names)
            for name in names[shift:] + names[:shift]:
                rows = [paths[name]() for _ in range(args.stream)]
                lanes[name].rounds.append(
                    {
                        "ttft": [first for first, _, _ in rows],
                        "tail": [closed - last for _, last, closed in rows],
                    }
                )
            print(f"round {number + 1}/{args.rounds} done", file=sys.stderr)
        time.sleep(2.0)  # the portal's flusher writes what is left of its spool
        ledger = ledger_runs()
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

    return report(lanes, args, ledger=ledger, warm=warm_runs)


def report(
    lanes: dict[str, Lane],
    args: argparse.Namespace,
    *,
    ledger: tuple[int, int, int],
    warm: int,
) -> int:
    runs = args.rounds * args.stream
    print(
        f"\n{args.rounds} interleaved rounds x {args.stream} streams a path; "
        f"{runs + warm} playground runs on the same day; upstream "
        f"{args.first_token * 1000:.0f} ms to the first chunk, {args.chunks} chunks"
    )
    print(f"load average: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    direct = lanes["direct"]
    print("medians per round, then the median over rounds (and their range), ms:")
    overhead: dict[str, list[float]] = {}
    for name, lane in lanes.items():
        ttft = [statistics.median(r["ttft"]) for r in lane.rounds]
        tail = [statistics.median(r["tail"]) for r in lane.rounds]
        print(f"  {name:<11} time to first token {spread(ttft)}   tail {spread(tail)}")
        if name != "direct":
            overhead[name] = [
                statistics.median(r["ttft"]) - statistics.median(d["ttft"])
                for r, d in zip(lane.rounds, direct.rounds, strict=True)
            ]
            print(f"  {'':<11} TTFT overhead vs direct {spread(overhead[name])}")
    play = lanes["playground"]
    blocks = min(3, len(play.rounds))
    size = len(play.rounds) // blocks
    flat = [
        statistics.median(
            [v for r in play.rounds[i * size : (i + 1) * size] for v in r["tail"]]
        )
        for i in range(blocks)
    ]
    print(
        "  playground tail by thirds of the day's runs: "
        + ", ".join(f"{value:.2f}" for value in flat)
        + " ms (flat in the number of runs)"
    )
    saved, calls, rolled_up = ledger
    ok = saved == calls == rolled_up
    print(
        f"ledger: {saved} answers saved, {calls} calls recorded, {rolled_up} "
        f"requests in the daily rollup: {'each once' if ok else 'MISMATCH'}"
    )
    litellm = lanes.get("litellm")
    if litellm is None:
        print("(the comparisons with LiteLLM were skipped: not installed)")
        return 0 if ok else 1
    tail_ratio = [
        statistics.median(p["tail"]) / statistics.median(x["tail"])
        for p, x in zip(play.rounds, litellm.rounds, strict=True)
    ]
    ttft_ratio = [
        p / x if x > 0 else float("inf")
        for p, x in zip(overhead["playground"], overhead["litellm"], strict=True)
    ]
    tail_median = statistics.median(tail_ratio)
    ttft_median = statistics.median(overhead["playground"]) / statistics.median(
        overhead["litellm"]
    )
    print(
        f"tail (last token → closed), playground ÷ LiteLLM: {tail_median:.2f} x "
        f"(rounds {min(tail_ratio):.2f} to {max(tail_ratio):.2f}); "
        f"target ≤ {TAIL_TARGET} x: {'OK' if tail_median <= TAIL_TARGET else 'MISSED'}"
    )
    print(
        f"TTFT overhead, playground ÷ LiteLLM: {ttft_median:.2f} x "
        f"(rounds {min(ttft_ratio):.2f} to {max(ttft_ratio):.2f}); "
        f"target ≤ {TTFT_TARGET} x: {'OK' if ttft_median <= TTFT_TARGET else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
