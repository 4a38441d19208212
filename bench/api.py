"""The API and the busiest pages under a real server: uvicorn on loopback.

Run: .venv/bin/python bench/api.py [--seconds N] [--rounds N] [--workers N]
                                   [--clients N] [--use-cases N]

Seeds a fresh database (a SQLite file in a temporary directory, or DATABASE_URL
when set: then it must be a scratch database), adds use-cases (1,000 by default),
starts uvicorn as in production (``uvloop``, ``httptools``, DEBUG off, 2 workers)
and drives it with keep-alive clients, each target for the same time:

- ``ping/``: the smallest DRF view, the floor every endpoint pays (routing,
  token lookup, throttle, rendering);
- ``use-cases/?page_size=100``: the heaviest list, a full page, against its
  **control**: a bare DRF list of the same rows (a ``ModelSerializer`` of the
  same columns, the same visibility, authentication, throttle and pagination),
  served by the same processes from a bench-only URL;
- ``spend/?group_by=vendor&period=month``: the spend report;
- the pages ``/use-cases/`` and ``/portfolio/`` (signed in as the board), as
  people load them.

The targets are interleaved round by round (A, B, A, B …) so the machine's
noise falls on both sides; each line gives the median requests a second, their
range over the rounds, the median p99 latency, and the list's ratio to its
control (the target: at most 1.5x).
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
UVICORN = str(Path(PYTHON).with_name("uvicorn"))
LIST = "/api/v1/use-cases/?page_size=100"
BARE = "/api/v1/bench-bare-use-cases/?page_size=100"
TARGETS = [
    ("ping", "/api/v1/ping/", "token"),
    ("use-cases API, 100 a page", LIST, "token"),
    ("  control: bare DRF list", BARE, "token"),
    (
        "spend by vendor and month",
        "/api/v1/spend/?group_by=vendor&period=month",
        "token",
    ),
    ("page /use-cases/", "/use-cases/", "session"),
    ("page /portfolio/", "/portfolio/", "session"),
]
LIMIT = 1.5

# Served only in the bench: the same rows through a plain ModelSerializer.
BENCH_URLS = """
from django.urls import path
from rest_framework import serializers, viewsets

from apps.usecases.models import UseCase
from portal.urls import urlpatterns as portal_urlpatterns


class BareSerializer(serializers.ModelSerializer):
    class Meta:
        model = UseCase
        fields = list(UseCase.LIST_FIELDS) if hasattr(UseCase, "LIST_FIELDS") else [
            "id", "title", "owner", "team", "status", "data_classification",
            "requests_per_day", "reassessment_flagged_at", "created_at",
            "updated_at", "submitted_at",
        ]


class BareViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = BareSerializer

    def get_queryset(self):
        return UseCase.objects.visible_to(self.request.user).order_by("-updated_at")


urlpatterns = [
    path("api/v1/bench-bare-use-cases/", BareViewSet.as_view({"get": "list"})),
    *portal_urlpatterns,
]
"""
BENCH_SETTINGS = """
from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
"""

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

SIGN_IN = """
from importlib import import_module
from django.conf import settings
from django.contrib.auth import login
from django.test import RequestFactory
from apps.accounts.models import User
request = RequestFactory().get("/")
request.session = import_module(settings.SESSION_ENGINE).SessionStore()
login(request, User.objects.get(username="board"), backend=settings.AUTHENTICATION_BACKENDS[0])
request.session.save()
print(request.session.session_key)
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
    sys.exit("uvicorn did not come up")


def probe(port: int, path: str, headers: dict[str, str]) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


def hammer(
    port: int, path: str, headers: dict[str, str], seconds: float, clients: int
) -> tuple[float, float]:
    """Requests a second and p99 latency (s) from ``clients`` keep-alive clients."""
    counts = [0] * clients
    latencies: list[float] = []
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        while time.monotonic() < stop:
            started = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                errors.append(f"{response.status} on {path}")
                return
            counts[index] += 1
        latencies.extend(mine)

    start = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        sys.exit(errors[0])
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return sum(counts) / (time.monotonic() - start), p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--use-cases", type=int, default=1000)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="portal-bench-"))
    (scratch / "static").mkdir()  # STATIC_ROOT, so whitenoise does not warn
    (scratch / "bench_urls.py").write_text(BENCH_URLS)
    (scratch / "bench_settings.py").write_text(BENCH_SETTINGS)
    secret = secrets.token_urlsafe(50)
    env = {
        **os.environ,
        "PORTAL_VAR_DIR": str(scratch),
        "DEBUG": "1",
        "SECRET_KEY": secret,
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
            env, "shell", "--no-imports", "-c", FILL.format(wanted=args.use_cases)
        ).split()[-1]
        token = manage(
            env, "issue_api_token", "board", "--name", "bench", "--days", "1"
        ).strip()
        session = manage(env, "shell", "--no-imports", "-c", SIGN_IN).split()[-1]
        port = free_port()
        serve_env = {
            **env,
            "DEBUG": "0",
            "DJANGO_SETTINGS_MODULE": "bench_settings",
            "PYTHONPATH": os.pathsep.join([str(scratch), str(ROOT)]),
            "FIELD_ENCRYPTION_KEY": env.get(
                "FIELD_ENCRYPTION_KEY", "ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMzI="
            ),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "LOG_LEVEL": "WARNING",
        }
        manage(serve_env, "collectstatic", "--noinput")  # the pages' manifest
        server = subprocess.Popen(
            [
                UVICORN,
                "portal.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=serve_env,
        )
        wait_until_up(port, time.monotonic() + 60)
        headers = {
            "token": {"Authorization": f"Bearer {token}"},
            "session": {"Cookie": f"sessionid={session}"},
        }
        print(
            f"uvicorn (uvloop, httptools): {args.workers} workers on "
            f"127.0.0.1:{port}; {args.clients} keep-alive clients; {args.rounds} "
            f"rounds of {args.seconds:g}s, targets interleaved; {rows} use-cases; "
            f"{database.split(':', 1)[0]}; load average "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
        targets = []
        for label, path, auth in TARGETS:
            status = probe(port, path, headers[auth])
            if status != 200:
                sys.exit(f"{path} answered {status}")
            started = time.perf_counter()
            probe(port, path, headers[auth])
            single = time.perf_counter() - started
            hammer(port, path, headers[auth], 1.0, args.clients)  # warm
            targets.append((label, path, headers[auth], single))
        rates: dict[str, list[float]] = {label: [] for label, *_ in targets}
        p99s: dict[str, list[float]] = {label: [] for label, *_ in targets}
        ratios: list[float] = []
        for _ in range(args.rounds):
            for label, path, auth_headers, _single in targets:
                rate, p99 = hammer(port, path, auth_headers, args.seconds, args.clients)
                rates[label].append(rate)
                p99s[label].append(p99)
            ratios.append(
                rates[TARGETS[2][0]][-1] / rates[TARGETS[1][0]][-1]
            )  # control over list, this round
        print(
            f"{'':30} {'req/s median':>12} {'range':>15} {'p99 median':>11} "
            f"{'one request':>11}"
        )
        for label, _path, _headers, single in targets:
            low, high = min(rates[label]), max(rates[label])
            print(
                f"{label:30} {statistics.median(rates[label]):12.1f} "
                f"{low:7.1f}-{high:<7.1f} {statistics.median(p99s[label]) * 1000:8.0f} ms "
                f"{single * 1000:8.0f} ms"
            )
        ratio = statistics.median(ratios)
        print(
            f"use-cases API / bare DRF list: {ratio:.2f}x slower (median of "
            f"{len(ratios)} rounds, range {min(ratios):.2f}-{max(ratios):.2f}; "
            f"limit {LIMIT}x): {'PASS' if ratio <= LIMIT else 'FAIL'}"
        )
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
