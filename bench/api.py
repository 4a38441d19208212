"""Requests a second of the API under a real server: gunicorn on loopback.

Run: .venv/bin/python bench/api.py [--seconds N] [--workers N] [--clients N]

Seeds a fresh database (a SQLite file in a temporary directory, or DATABASE_URL
when set: then it must be a scratch database), adds use-cases until a page of
100 is full, starts gunicorn with DEBUG off, and drives it with keep-alive
clients, each endpoint for the same time and with the same bearer token:

- ``ping/``: the smallest DRF view, the floor every endpoint pays (routing,
  token lookup, throttle, rendering);
- ``use-cases/?page_size=100``: the heaviest list, a full page;
- ``spend/?group_by=vendor&period=month``: the spend report (skipped, with a
  message, if the resource is not there).

Prints requests a second for each and each one's ratio to ping.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
TARGETS = [
    ("ping", "/api/v1/ping/"),
    ("use-cases, 100 a page", "/api/v1/use-cases/?page_size=100"),
    ("spend by vendor and month", "/api/v1/spend/?group_by=vendor&period=month"),
]
USE_CASES_WANTED = 120

FILL = """
from apps.usecases.models import UseCase, Workload
from apps.accounts.models import User
owner = User.objects.get(username="requester")
have = UseCase.objects.count()
for n in range(have, {wanted}):
    use_case = UseCase.objects.create(
        title=f"Benchmark use-case {{n}}", description="Generated for bench/api.py.",
        owner=owner, team=owner.team, status=UseCase.Status.SUBMITTED,
        data_classification="internal", requests_per_day=1000 + n,
        avg_input_tokens=800, avg_output_tokens=200, capability_need="standard",
        context_tokens=8000, mlops_readiness="limited", horizon="production",
    )
    Workload.objects.create(use_case=use_case, task_type="classification", share=60)
    Workload.objects.create(use_case=use_case, task_type="extraction", share=40)
print(UseCase.objects.count())
"""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def wait_until_up(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    sys.exit("gunicorn did not come up")


def probe(port: int, path: str, token: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    response.read()
    return response.status


def hammer(port: int, path: str, token: str, seconds: float, clients: int) -> float:
    """Requests a second from `clients` keep-alive connections over `seconds`."""
    counts = [0] * clients
    errors: list[str] = []
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors.append(f"{response.status} on {path}")
                return
            counts[index] += 1

    start = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        sys.exit(errors[0])
    return sum(counts) / (time.monotonic() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    (scratch / "static").mkdir()  # STATIC_ROOT, so whitenoise does not warn
    env = {
        **os.environ,
        "PORTAL_VAR_DIR": str(scratch),
        "DEBUG": "1",
        "API_THROTTLE_RATE": "10000000/minute",
        "CELERY_BROKER_URL": "memory://",
    }
    database = (
        os.environ.get("DATABASE_URL") or f"sqlite:///{scratch / 'bench.sqlite3'}"
    )
    env["DATABASE_URL"] = database
    server = None
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo")
        rows = manage(
            env, "shell", "--no-imports", "-c", FILL.format(wanted=USE_CASES_WANTED)
        ).split()[-1]
        token = manage(
            env, "issue_api_token", "board", "--name", "bench", "--days", "1"
        ).strip()
        port = free_port()
        serve_env = {
            **env,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEY": env.get(
                "FIELD_ENCRYPTION_KEY", "ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMzI="
            ),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [
                GUNICORN,
                "portal.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.workers),
                "--worker-class",
                "gthread",
                "--threads",
                "2",
                "--keep-alive",
                "30",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=serve_env,
        )
        wait_until_up(port, time.monotonic() + 30)
        print(
            f"gunicorn: {args.workers} workers x 2 threads on 127.0.0.1:{port}; "
            f"{args.clients} keep-alive clients, {args.seconds:g}s each; "
            f"{rows} use-cases; {database.split(':', 1)[0]}"
        )
        results: dict[str, float] = {}
        for label, path in TARGETS:
            status = probe(port, path, token)
            if status == 404:
                print(f"{label:28} skipped: {path} is not there (404)")
                continue
            if status != 200:
                sys.exit(f"{path} answered {status}")
            hammer(port, path, token, min(1.0, args.seconds), args.clients)  # warm
            results[label] = hammer(port, path, token, args.seconds, args.clients)
        floor = results["ping"]
        for label, rate in results.items():
            print(f"{label:28} {rate:9.1f} req/s   ping/this = {floor / rate:5.1f}x")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
