"""A demo gateway key for the demo's approved or live use-case (demo only).

The portal keeps only the key's hash. For ``make run`` to print a ready ``curl``
line, the seed writes the secret to ``$PORTAL_VAR_DIR/gateway-demo-key`` (mode
0600, under the git-ignored ``var/``), once the seed's transaction commits. A
later seed reuses the key while that file still opens it; otherwise it revokes
the old demo key and issues a new one. Never do this with a real key.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.db import transaction

from apps.usecases.models import UseCase

from . import keys
from .models import GatewayKey

DEMO_KEY_NAME = "Demo key (make run)"
# The live, routed demo use-case first; any approved or live one otherwise.
PREFERRED_TITLE = "Customer email router"


def demo_key_path() -> Path:
    return Path(settings.VAR_DIR) / "gateway-demo-key"


def read_demo_key() -> str | None:
    try:
        return demo_key_path().read_text().strip() or None
    except OSError:
        return None


def write_demo_key(secret: str) -> None:
    path = demo_key_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(secret + "\n")
    os.chmod(path, 0o600)  # in case the file was already there, wider


def demo_use_case() -> UseCase | None:
    candidates = UseCase.objects.filter(
        status__in=keys.ISSUABLE_STATUSES, decisions__isnull=False
    ).distinct()
    return (
        candidates.filter(title=PREFERRED_TITLE).first()
        or candidates.order_by("pk").first()
    )


def seed_demo(context: dict) -> None:
    report: list[str] = context.setdefault("report", [])
    use_case = demo_use_case()
    if use_case is None:
        report.append("Gateway demo key: no approved or live demo use-case.")
        return
    secret = read_demo_key()
    key = keys.authenticate_key(secret) if secret else None
    if key is not None and key.use_case_id == use_case.pk:
        report.append(f"Gateway demo key: unchanged, in {demo_key_path()}")
        return
    stale = GatewayKey.objects.active().filter(use_case=use_case, name=DEMO_KEY_NAME)
    for old in stale:
        keys.revoke_gateway_key(key=old, by=None)
    key, secret = keys.issue_gateway_key(use_case=use_case, name=DEMO_KEY_NAME, by=None)
    transaction.on_commit(lambda: write_demo_key(secret))
    report.append(
        f"Gateway demo key for “{use_case.title}” (demo only, also in "
        f"{demo_key_path()}): {secret}"
    )
