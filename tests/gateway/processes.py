"""Gateway processes of their own for the tests: ``uvicorn portal.asgi:application``.

:func:`gateway_process` starts the portal as deployed, in a subprocess, on a
database the test shares with it (:func:`shared_database`), and waits for
``/healthz``; the process is always ended when the block is left. Its ``pid`` is
the server's own (one process, no ``--workers``), which names its spool file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from django.conf import settings
from django.db import connection

from tests.endpoints.chaos import postgres_url, sqlite_file_database

ROOT = Path(__file__).resolve().parents[2]
UVICORN = Path(sys.executable).parent / "uvicorn"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


@dataclass
class GatewayProcess:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL, then reap it: a zombie would still answer ``kill(pid, 0)``."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT)

    def stop(self) -> None:
        """SIGTERM (uvicorn's graceful shutdown), SIGKILL if it does not end."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def shared_database(root: Path) -> Iterator[str]:
    """A ``DATABASE_URL`` for other processes to reach this test's database.

    PostgreSQL: the live test database. SQLite: the in-memory test database is
    moved to a file under ``root`` for the duration (and put back after).
    """
    if connection.vendor == "sqlite":
        with sqlite_file_database(root / "gateway.sqlite3") as url:
            yield url
    else:
        yield postgres_url()


@contextlib.contextmanager
def gateway_process(
    root: Path, *, name: str, database_url: str, **env: str
) -> Iterator[GatewayProcess]:
    """The portal under its own uvicorn on loopback; ``env`` adds settings."""
    var = root / name
    var.mkdir(parents=True, exist_ok=True)
    keep = {"PATH", "HOME", "LANG", "TZ"}
    environment = {
        **{k: v for k, v in os.environ.items() if k in keep},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DEBUG": "1",
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEY,
        "ENDPOINT_ALLOWED_NETWORKS": "127.0.0.0/8",
        "PORTAL_VAR_DIR": str(var),
        "DATABASE_URL": database_url,
        "DB_POOL_MAX": "4",
        "LOG_LEVEL": "ERROR",
        **env,
    }
    port = free_port()
    log = var / "uvicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(UVICORN),
                "portal.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    gateway = GatewayProcess(process=process, url=f"http://127.0.0.1:{port}", log=log)
    try:
        _wait_until_ready(gateway)
        yield gateway
    finally:
        gateway.stop()


def _wait_until_ready(gateway: GatewayProcess) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if gateway.process.poll() is not None:
            raise RuntimeError(f"uvicorn exited:\n{gateway.output()}")
        try:
            if httpx.get(f"{gateway.url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start:\n{gateway.output()}")
        time.sleep(0.2)
