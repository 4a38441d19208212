"""PostgreSQL connections stay within the documented bound under the ASGI server.

A real uvicorn with two worker processes serves the portal against PostgreSQL, as
deployed; 32 clients at once load pages and API lists that query the database, and
``pg_stat_activity`` is sampled throughout. The bound (docs/operations.md,
"Database connections") is worker processes x ``DB_POOL_MAX``. The server's
connections carry an application name of their own (``PGAPPNAME``), so this test's
own connections are not counted. Skipped on SQLite.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from apps.accounts.models import ApiToken
from tests.factories import UseCaseFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent
UVICORN = Path(sys.executable).parent / "uvicorn"

pytestmark = [
    pytest.mark.skipif(
        not os.environ.get("DATABASE_URL", "").startswith(("postgres:", "postgresql:")),
        reason="connection pooling is about PostgreSQL (DATABASE_URL)",
    ),
    pytest.mark.django_db(transaction=True),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def own_connection(dbname: str = "postgres", *, autocommit: bool = True) -> Any:
    """A connection of the test's own, outside Django and its pool."""
    import psycopg

    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname=dbname,
        autocommit=autocommit,
    )


def server_connections(admin: Any, app_name: str) -> int:
    row = admin.execute(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = %s AND application_name = %s",
        [connection.settings_dict["NAME"], app_name],
    ).fetchone()
    return int(row[0])


@contextmanager
def uvicorn(
    tmp_path: Path, *, workers: int, app_name: str, **env: str
) -> Iterator[str]:
    """The portal under uvicorn, as deployed, on the test database."""
    port = free_port()
    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    keep = {"PATH", "HOME", "LANG"}
    environment = {
        **{k: v for k, v in os.environ.items() if k in keep},
        "DATABASE_URL": database_url,
        "PGAPPNAME": app_name,
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": os.environ.get(
            "FIELD_ENCRYPTION_KEY", "ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMzI="
        ),
        "DEBUG": "1",
        "PORTAL_VAR_DIR": str(tmp_path),
        "API_THROTTLE_RATE": "100000/minute",
        "LOG_LEVEL": "ERROR",
        **env,
    }
    log = (tmp_path / "uvicorn.log").open("w")
    process = subprocess.Popen(
        [
            str(UVICORN),
            "portal.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "uvicorn.log").read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def reader() -> dict[str, str]:
    """A platform user with a bearer token and a signed-in session, and some rows."""
    user = UserFactory(username="dave", role="platform")
    for _ in range(5):
        UseCaseFactory(owner=user)
    _, key = ApiToken.issue(user=user, name="load", scope=ApiToken.Scope.READ)
    client = Client()
    client.force_login(user)
    return {"token": key, "session": client.cookies[settings.SESSION_COOKIE_NAME].value}


def test_uvicorn_with_two_workers_stays_within_two_pools_under_32_clients(
    tmp_path: Path, reader: dict[str, str]
) -> None:
    pool_max = 4
    workers = 2
    bound = workers * pool_max  # docs/operations.md: processes x DB_POOL_MAX
    clients, per_client = 32, 10
    app_name = "portal-pool-test"
    paths = [
        "/api/v1/ping/",
        "/api/v1/use-cases/",
        "/api/v1/catalogue/models/",
        "/use-cases/",
    ]

    with (
        uvicorn(
            tmp_path, workers=workers, app_name=app_name, DB_POOL_MAX=str(pool_max)
        ) as url,
        own_connection() as admin,
    ):
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, server_connections(admin, app_name))
                time.sleep(0.02)

        def load(number: int) -> list[int]:
            statuses = []
            with httpx.Client(
                base_url=url,
                headers={"Authorization": f"Bearer {reader['token']}"},
                cookies={settings.SESSION_COOKIE_NAME: reader["session"]},
                timeout=60,
            ) as http:
                for index in range(per_client):
                    path = paths[(number + index) % len(paths)]
                    statuses.append(http.get(path).status_code)
            return statuses

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            with ThreadPoolExecutor(max_workers=clients) as executor:
                statuses = [
                    status
                    for result in executor.map(load, range(clients))
                    for status in result
                ]
        finally:
            done.set()
            sampler.join()
        after = server_connections(admin, app_name)

    assert len(statuses) == clients * per_client == 320
    assert [s for s in statuses if s != 200] == []
    assert 0 < peak <= bound, f"peak {peak} connections, bound {bound}"
    assert after <= bound


def test_a_request_that_finds_the_pool_full_gets_a_503_and_the_held_one_completes(
    tmp_path: Path, reader: dict[str, str]
) -> None:
    app_name = "portal-pool-full-test"
    token = {"Authorization": f"Bearer {reader['token']}"}
    with (
        uvicorn(
            tmp_path,
            workers=1,
            app_name=app_name,
            DB_POOL_MAX="1",
            DB_POOL_TIMEOUT="0.5",
        ) as url,
        own_connection() as admin,
        own_connection(connection.settings_dict["NAME"], autocommit=False) as locker,
    ):
        # The token lookup of the first request blocks on this lock while holding
        # the pool's only connection.
        locker.execute("LOCK TABLE accounts_apitoken IN ACCESS EXCLUSIVE MODE")
        with ThreadPoolExecutor(max_workers=1) as executor:
            held = executor.submit(
                httpx.get, f"{url}/api/v1/ping/", headers=token, timeout=60
            )
            deadline = time.monotonic() + 30
            while not admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE application_name = %s "
                "AND wait_event_type = 'Lock'",
                [app_name],
            ).fetchone():
                assert time.monotonic() < deadline, "the first request never blocked"
                time.sleep(0.05)

            api = httpx.get(f"{url}/api/v1/use-cases/", headers=token, timeout=30)
            page = httpx.get(
                f"{url}/use-cases/",
                cookies={settings.SESSION_COOKIE_NAME: reader["session"]},
                timeout=30,
            )
            locker.rollback()  # releases the lock
            first = held.result(timeout=30)

    assert api.status_code == 503
    assert api.headers["Retry-After"] == "5"
    assert api.json()["code"] == "database_busy"
    assert page.status_code == 503
    assert first.status_code == 200
