"""Pieces of the collection chaos test: upstreams, a worker process, a broker.

- :class:`Upstream` is one loopback vLLM server whose counters the test drives and
  knows (the ground truth); a slow one answers ``delay`` seconds after reading its
  counters, so a poll of it can be caught in flight.
- :class:`WorkerProcess` is ``celery -A portal worker`` in a session of its own,
  so a SIGKILL takes its pool children with it.
- :class:`Broker` is a broker of the test's own: a filesystem folder, or a
  ``redis-server`` without persistence on a free port; ``restart_empty`` loses
  every queued message, as a broker restarted without persistence does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.servers import _VllmSeries, vllm_metrics

BASE_DIR = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class Counters:
    requests: int
    prompt_tokens: int
    generation_tokens: int

    def __sub__(self, other: Counters) -> Counters:
        return Counters(
            self.requests - other.requests,
            self.prompt_tokens - other.prompt_tokens,
            self.generation_tokens - other.generation_tokens,
        )

    def __add__(self, other: Counters) -> Counters:
        return Counters(
            self.requests + other.requests,
            self.prompt_tokens + other.prompt_tokens,
            self.generation_tokens + other.generation_tokens,
        )


ZERO = Counters(0, 0, 0)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Upstream:
    """A vLLM ``/metrics`` on 127.0.0.1 with counters the test controls."""

    def __init__(self, *, model: str, start: Counters, delay: float = 0.0) -> None:
        self.model = model
        self.delay = delay
        self._counters = start
        self._created = time.time()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.in_flight = 0
        self.scrapes = 0  # answered /metrics requests
        self.first_scrape_at: float | None = None  # time.time() of the first
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                upstream._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}
        )
        self._thread.daemon = True
        self._thread.start()

    @property
    def counters(self) -> Counters:
        with self._lock:
            return self._counters

    def serve(
        self, *, requests: int, prompt_tokens: int, generation_tokens: int
    ) -> None:
        """Count some traffic served."""
        with self._lock:
            self._counters += Counters(requests, prompt_tokens, generation_tokens)

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        if handler.path.split("?")[0] != "/metrics":
            body = b"not found"
            handler.send_response(404)
        else:
            with self._lock:
                self.in_flight += 1
                counters = self._counters
                if self.first_scrape_at is None:
                    self.first_scrape_at = time.time()
            try:
                # The counters were read on arrival: a slow answer is an old value.
                if self.delay:
                    self._stopping.wait(self.delay)
                series = _VllmSeries(
                    self.model,
                    "0",
                    float(counters.prompt_tokens),
                    float(counters.generation_tokens),
                    float(counters.requests),
                    self._created,
                )
                body = vllm_metrics([series]).encode()
                handler.send_response(200)
            finally:
                with self._lock:
                    self.in_flight -= 1
                    self.scrapes += 1
        handler.send_header("content-type", "text/plain; version=0.0.4")
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        with contextlib.suppress(ConnectionError):
            handler.wfile.write(body)


def stop_all(upstreams: list[Upstream]) -> None:
    """Stop upstreams in parallel (each shutdown waits for its poll loop)."""
    threads = [threading.Thread(target=u.stop, daemon=True) for u in upstreams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Broker:
    """A broker of this test's own, restartable empty."""

    def __init__(self, root: Path, *, redis: bool) -> None:
        self.root = root
        self.redis = redis
        self._process: subprocess.Popen[bytes] | None = None
        if redis:
            self.port = free_port()
            self.url = f"redis://127.0.0.1:{self.port}/0"
            self._start_redis()
        else:
            self.url = "filesystem://"
            self.folder = root / "celery-broker"
            self.control = root / "celery-control"
            self.folder.mkdir(parents=True, exist_ok=True)
            self.control.mkdir(parents=True, exist_ok=True)

    @property
    def transport_options(self) -> dict[str, Any]:
        if self.redis:
            return {}
        return {
            "data_folder_in": str(self.folder),
            "data_folder_out": str(self.folder),
            "control_folder": str(self.control),
            "store_processed": False,
        }

    def worker_env(self) -> dict[str, str]:
        if self.redis:
            return {"CELERY_BROKER_URL": self.url}
        # settings.py puts the folders under PORTAL_VAR_DIR.
        return {"CELERY_BROKER_URL": self.url, "PORTAL_VAR_DIR": str(self.root)}

    def queued(self) -> int:
        """Messages waiting in the broker (all queues)."""
        if self.redis:
            import redis

            client = redis.Redis(port=self.port, socket_timeout=2)
            try:
                return sum(
                    int(client.llen(key))
                    for key in client.keys("*")
                    if client.type(key) == b"list"
                )
            finally:
                client.close()
        return len(list(self.folder.glob("*.msg")))

    def restart_empty(self) -> None:
        """Lose every queued message, as a restart without persistence does."""
        if self.redis:
            self._kill_redis()
            self._start_redis()
            return
        for message in self.folder.glob("*.msg"):
            with contextlib.suppress(FileNotFoundError):
                message.unlink()

    def close(self) -> None:
        if self.redis:
            self._kill_redis()

    def _start_redis(self) -> None:
        import redis

        self._process = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while True:
            client = redis.Redis(port=self.port, socket_timeout=1)
            try:
                if client.ping():
                    return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
            finally:
                client.close()

    def _kill_redis(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None


#: ``celery -A portal worker``, but checking a filesystem broker's folder every
#: 50 ms instead of every second (kombu's default), which caps a worker at about
#: three tasks a second; a Redis broker ignores the option.
_WORKER_MAIN = """
import sys
from portal.celery import app
options = dict(app.conf.broker_transport_options or {})
options["polling_interval"] = 0.05
app.conf.broker_transport_options = options
app.worker_main(sys.argv[1:])
"""


class WorkerProcess:
    """``celery -A portal worker`` in a process group of its own."""

    def __init__(
        self, *, name: str, queue: str, env: dict[str, str], log: Path
    ) -> None:
        self.log = log
        self._offset = log.stat().st_size if log.exists() else 0
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _WORKER_MAIN,
                    "worker",
                    "--pool=prefork",
                    "--concurrency=3",
                    f"--queues={queue}",
                    f"--hostname={name}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--loglevel=INFO",
                ],
                cwd=BASE_DIR,
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self) -> str:
        with self.log.open("rb") as handle:
            handle.seek(self._offset)
            return handle.read().decode(errors="replace")

    def wait_for(self, text: str, *, after: int = 0, timeout: float = 60) -> int:
        """Wait until the log shows ``text`` (past offset ``after``); its offset."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.output().find(text, after)
            if found >= 0:
                return found + len(text)
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        tail = self.output()[-3000:]
        raise AssertionError(
            f"worker log never showed {text!r} within {timeout} s "
            f"(exit code {self.process.poll()}); log tail:\n{tail}"
        )

    def kill(self) -> None:
        """SIGKILL the worker and its pool, as the OOM killer would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """Warm shutdown, then SIGKILL whatever is left."""
        if self.process.poll() is None:
            # The main process only: it stops its pool itself.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


class Ticker:
    """Beat: sends the ``collect_due_endpoints`` task every ``every`` seconds."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.sent = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        from apps.endpoints import tasks

        while not self._stop.is_set():
            try:
                tasks.collect_due_endpoints.delay()
                self.sent += 1
            except Exception as exc:  # a broker down for a moment; beat goes on
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self._stop.wait(self.every)


class Traffic:
    """Keeps serving requests on the active upstreams, in whole-cent token sizes."""

    def __init__(self, upstreams: list[Upstream], *, every: float = 0.1) -> None:
        self.active = set(range(len(upstreams)))
        self._upstreams = upstreams
        self._every = every
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def pause(self, index: int) -> None:
        with self._lock:
            self.active.discard(index)

    def resume(self, index: int) -> None:
        with self._lock:
            self.active.add(index)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        tick = 0
        while not self._stop.wait(self._every):
            tick += 1
            with self._lock:
                active = sorted(self.active)
                for index in active:
                    # Deterministic sizes: 1,000 prompt tokens = 1 cent, 500
                    # generation tokens = 1 cent at the test's prices.
                    requests = (tick + index) % 3
                    if requests:
                        self._upstreams[index].serve(
                            requests=requests,
                            prompt_tokens=1000 * requests * (1 + index % 4),
                            generation_tokens=500 * requests * (1 + tick % 3),
                        )


@contextlib.contextmanager
def sqlite_file_database(path: Path) -> Iterator[str]:
    """Move this process's in-memory SQLite test database to a file for the test.

    A worker process cannot open an in-memory database, so the schema is copied
    to ``path`` and the default connection opens that; the in-memory database is
    kept open and put back afterwards.
    """
    import sqlite3

    from django.db import connections

    connection = connections["default"]
    connection.ensure_connection()
    memory = connection.connection
    target = sqlite3.connect(path)
    memory.backup(target)
    target.close()
    name = connection.settings_dict["NAME"]
    connection.connection = None  # detached, still open: the test DB lives on
    connection.settings_dict["NAME"] = str(path)
    try:
        yield f"sqlite:///{path}"
    finally:
        connection.close()
        connection.settings_dict["NAME"] = name
        connection.connection = memory


def postgres_url() -> str:
    """The URL of the live (test) PostgreSQL database."""
    from urllib.parse import quote

    from django.db import connection

    s = connection.settings_dict
    auth = quote(s.get("USER") or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    host = s.get("HOST") or "127.0.0.1"
    port = s.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{s['NAME']}"


def terminate_other_connections() -> int:
    """``pg_terminate_backend`` every other connection to this database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])
