"""Time to first token through the playground against calling the model server directly.

Three processes, as in production: the demo's fake vLLM (scripts/fake_vllm.py),
the portal under uvicorn (portal.asgi), and this client. Each round streams one
chat completion straight from the model server and one through the playground's
streaming view (signed-in requester, the data guard, the rate limit, the saved
run), alternating so drift hits both alike. Time to first token is the time from
sending the request to the first content of the answer.

    .venv/bin/python bench/playground.py [--rounds 200] [--token-delay 0.005]

The portal should add less than 10 ms at the median. Uses its own SQLite
database in a temporary folder unless DATABASE_URL is set.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
BUDGET_MS = 10.0
PROMPT = "Which queue does this claim go to? A van hit a fence."
SYSTEM = "You route insurance claims."


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not come up")


def prepare_database(model_url: str) -> tuple[str, int]:
    """Migrate, and create a requester and an in-house endpoint; (session, endpoint)."""
    import django

    django.setup()
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.test import Client

    from apps.accounts.models import User
    from apps.endpoints.models import ServingEndpoint

    call_command("migrate", verbosity=0, interactive=False)
    user, _ = User.objects.get_or_create(username="bench-requester")
    user.groups.add(Group.objects.get(name="requester"))
    endpoint, _ = ServingEndpoint.objects.update_or_create(
        name="Bench vLLM",
        defaults={
            "kind": "vllm",
            "base_url": model_url,
            "location": "in_house",
            "hourly_cost": 2.5,
            "served_models": [MODEL],
        },
    )
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value, endpoint.pk


def ttft_direct(client: httpx.Client, url: str, max_tokens: int) -> float:
    body = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": PROMPT},
        ],
        "temperature": 0.2,
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    first = None
    with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if first is None and line.startswith("data: {"):
                chunk = json.loads(line[6:])
                choices = chunk.get("choices") or [{}]
                if (choices[0].get("delta") or {}).get("content"):
                    first = time.perf_counter() - started
    assert first is not None, "no content streamed"
    return first * 1000


def ttft_portal(
    client: httpx.Client, csrf: str, endpoint_id: int, max_tokens: int
) -> float:
    form = {
        "csrfmiddlewaretoken": csrf,
        "system_prompt": SYSTEM,
        "prompt": PROMPT,
        "temperature": "0.2",
        "max_tokens": str(max_tokens),
        "data_classification": "internal",
        "target": [f"{endpoint_id}:{MODEL}"],
    }
    started = time.perf_counter()
    first = None
    with client.stream(
        "POST", "/playground/stream/", data=form, headers={"X-CSRFToken": csrf}
    ) as response:
        if response.status_code != 200:
            raise SystemExit(f"the playground answered {response.status_code}")
        for line in response.iter_lines():
            if first is None and line == "event: delta":
                first = time.perf_counter() - started
    assert first is not None, "no delta streamed"
    return first * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=15)
    parser.add_argument(
        "--token-delay", type=float, default=0.005, help="the model's seconds a word"
    )
    parser.add_argument("--max-tokens", type=int, default=8)
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="portal-bench-playground-")
    env = {
        **os.environ,
        "PORTAL_VAR_DIR": os.environ.get("PORTAL_VAR_DIR", folder),
        "DATABASE_URL": os.environ.get(
            "DATABASE_URL", f"sqlite:///{folder}/bench.sqlite3"
        ),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "1",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        "ENDPOINT_ALLOWED_NETWORKS": "127.0.0.0/8",
        # The bench sends far more than a person would; lift the per-user limit.
        "PLAYGROUND_THROTTLE_RATE": "1000000/minute",
    }
    os.environ.update(env)
    model_port, portal_port = free_port(), free_port()
    model_url = f"http://127.0.0.1:{model_port}"
    portal_url = f"http://127.0.0.1:{portal_port}"
    session, endpoint_id = prepare_database(model_url)

    python = sys.executable
    uvicorn = str(Path(python).parent / "uvicorn")
    processes = [
        subprocess.Popen(
            [
                python,
                "scripts/fake_vllm.py",
                "--port",
                str(model_port),
                "--model",
                MODEL,
                "--token-delay",
                str(args.token_delay),
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [
                uvicorn,
                "portal.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(portal_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
        ),
    ]
    try:
        wait_until_up(f"{model_url}/health")
        wait_until_up(f"{portal_url}/accounts/login/")
        direct_client = httpx.Client(timeout=30.0)
        portal_client = httpx.Client(
            base_url=portal_url, cookies={"sessionid": session}, timeout=30.0
        )
        portal_client.get("/playground/").raise_for_status()
        csrf = portal_client.cookies["csrftoken"]
        chat_url = f"{model_url}/v1/chat/completions"

        direct: list[float] = []
        portal: list[float] = []
        for index in range(args.warmup + args.rounds):
            d = ttft_direct(direct_client, chat_url, args.max_tokens)
            p = ttft_portal(portal_client, csrf, endpoint_id, args.max_tokens)
            if index >= args.warmup:
                direct.append(d)
                portal.append(p)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    def p90(values: list[float]) -> float:
        return statistics.quantiles(values, n=10)[-1]

    added = [p - d for p, d in zip(portal, direct, strict=True)]
    median_added = statistics.median(portal) - statistics.median(direct)
    print(
        f"time to first token over {args.rounds} rounds (after {args.warmup} warm-up)"
    )
    print(
        f"  direct to the model server  median {statistics.median(direct):7.2f} ms"
        f"   p90 {p90(direct):7.2f} ms"
    )
    print(
        f"  through the playground      median {statistics.median(portal):7.2f} ms"
        f"   p90 {p90(portal):7.2f} ms"
    )
    print(
        f"  the portal adds             median {median_added:7.2f} ms"
        f"   (median of per-round differences {statistics.median(added):.2f} ms)"
    )
    verdict = "OK" if median_added < BUDGET_MS else "OVER BUDGET"
    print(f"budget < {BUDGET_MS:.0f} ms at the median: {verdict}")
    return 0 if median_added < BUDGET_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
