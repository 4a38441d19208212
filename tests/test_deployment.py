"""docker-compose.yml stays valid, and the settings it passes work on real services.

No Docker engine runs here, so the compose file is read, not run; its environment is
then pointed at the local PostgreSQL and Redis (same settings, other host names).
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCRATCH_REDIS_DB = 15
# CI (.ci/run) points the suite at PostgreSQL and promises Redis: there, missing
# services fail this module instead of skipping it.
SERVICES_PROMISED = os.environ.get("DATABASE_URL", "").startswith("postgres")
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def reachable(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def compose_env_on_this_machine(tmp_path: Path) -> dict[str, str]:
    env = {}
    for key, value in COMPOSE["x-portal-env"].items():
        value = str(value)
        if value.startswith("${"):  # ${NAME:-default} or ${NAME:?message}
            value = value.split(":-", 1)[1][:-1] if ":-" in value else ""
        env[key] = value
    env["SECRET_KEY"] = "compose-test-" + "s3cr3t-" * 8
    env["FIELD_ENCRYPTION_KEY"] = "ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMzI="
    env["DATABASE_URL"] = env["DATABASE_URL"].replace(
        "portal:portal@db:5432/portal", "postgres@127.0.0.1:5432/postgres"
    )
    # The compose file's Redis databases 0 and 1 may hold this machine's own
    # broker and cache: the check writes to database 15 instead.
    for name in ("CELERY_BROKER_URL", "CACHE_URL"):
        host, _, _db = env[name].replace("//redis:", "//127.0.0.1:").rpartition("/")
        env[name] = f"{host}/{SCRATCH_REDIS_DB}"
    keep = {"PATH", "HOME", "LANG"}
    base = {k: v for k, v in os.environ.items() if k in keep}
    return {**base, **env, "PORTAL_VAR_DIR": str(tmp_path)}


def test_compose_runs_every_service_with_a_health_check():
    services = COMPOSE["services"]
    assert {"db", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("db", "redis", "web", "worker", "beat"):
        assert "healthcheck" in services[name], name
    for name in ("web", "worker", "beat"):
        assert services[name]["environment"]["DEBUG"] == "0"
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "exec uvicorn portal.asgi:application" in dockerfile
    assert "--loop uvloop --http httptools" in dockerfile
    assert "--workers ${WEB_CONCURRENCY:-$(nproc)}" in dockerfile


def test_compose_settings_pass_the_deploy_check_on_postgres_and_redis(tmp_path):
    if not (reachable(5432) and reachable(6379)):
        if SERVICES_PROMISED:
            pytest.fail("PostgreSQL (5432) and Redis (6379) must run for this check")
        pytest.skip("needs local PostgreSQL and Redis (listed by -rs)")
    env = compose_env_on_this_machine(tmp_path)
    check = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "check",
            "--deploy",
            "--database",
            "default",
            "--fail-level",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    broker = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; django.setup();"
            "from portal.celery import app;"
            "app.connection().ensure_connection(max_retries=1);"
            "print(app.connection().as_uri())",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "portal.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert broker.returncode == 0, broker.stderr
    assert f"@127.0.0.1:6379/{SCRATCH_REDIS_DB}" in broker.stdout
    cache = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup();"
            "from django.core.cache import cache;"
            "cache.set('compose-check', 'ok', 5); print(cache.get('compose-check'))",
        ],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "portal.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cache.returncode == 0, cache.stderr
    assert cache.stdout.strip() == "ok"
