"""Production settings are safe, and the demo loader behaves."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.models import User
from apps.usecases.models import UseCase

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # A fresh process with only what production would set (no test-only switches).
    dropped = {"DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_debug_off_and_real_secrets(tmp_path):
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="k" * 20 + "a-real-secret-for-the-deploy-check-0123456789",
        FIELD_ENCRYPTION_KEY="ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMzI=",
        ALLOWED_HOSTS="portal.example.com",
        PORTAL_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_secrets(tmp_path):
    result = run_manage("check", DEBUG="0", SECRET_KEY="", PORTAL_VAR_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY and FIELD_ENCRYPTION_KEY are required" in result.stderr


@pytest.mark.django_db
def test_seed_demo_refuses_to_run_when_debug_is_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG only"):
        call_command("seed_demo")


@pytest.mark.django_db
def test_seed_demo_creates_the_demo_logins_and_is_idempotent(settings):
    settings.DEBUG = True
    call_command("seed_demo")
    first = (User.objects.count(), UseCase.objects.count())
    call_command("seed_demo")
    assert (User.objects.count(), UseCase.objects.count()) == first
    for name in ("requester", "board", "platform", "procurement", "auditor"):
        user = User.objects.get(username=name)
        assert user.check_password("demo")
        assert name in user.roles
    assert set(UseCase.objects.values_list("status", flat=True)) >= {
        "draft",
        "submitted",
        "in_review",
        "approved",
        "live",
        "changes_requested",
    }


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "k" * 20 + "a-real-secret-for-the-deploy-check-0123456789",
    "FIELD_ENCRYPTION_KEY": "ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMzI=",
    "ALLOWED_HOSTS": "portal.example.com",
}
CLAIMS_HTTPS = (
    "from django.test import RequestFactory;"
    "request = RequestFactory().get('/', HTTP_X_FORWARDED_PROTO='https',"
    " HTTP_HOST='portal.example.com');"
    "print('secure' if request.is_secure() else 'plain')"
)


def test_x_forwarded_proto_is_not_believed_unless_behind_a_proxy(tmp_path):
    result = run_manage(
        "shell", "-c", CLAIMS_HTTPS, PORTAL_VAR_DIR=str(tmp_path), **PRODUCTION
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "plain"


def test_trust_proxy_ssl_header_believes_x_forwarded_proto(tmp_path):
    result = run_manage(
        "shell",
        "-c",
        CLAIMS_HTTPS,
        PORTAL_VAR_DIR=str(tmp_path),
        TRUST_PROXY_SSL_HEADER="1",
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "secure"
