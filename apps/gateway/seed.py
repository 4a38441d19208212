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

from apps.accounts.models import User
from apps.endpoints.models import ServingEndpoint
from apps.reviews.models import Decision
from apps.usecases.models import UseCase

from . import keys
from .models import GatewayKey
from .routes import current_routes, workload_types

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


def ensure_demo_routes(use_case: UseCase) -> None:
    """Route every workload of the demo use-case to the demo's in-house vLLM
    servers (the 70B first, the 8B as fallback), as a board amendment, so the
    printed ``curl`` line gets an answer."""
    if current_routes(use_case):
        return
    served = {
        e.served_models[0]: e
        for e in ServingEndpoint.objects.filter(location="in_house", kind="vllm")
        if e.served_models
    }
    big = served.get("meta-llama/Llama-3.1-70B-Instruct")
    small = served.get("meta-llama/Llama-3.1-8B-Instruct")
    board = User.objects.filter(username="board").first()
    latest = (
        Decision.objects.filter(use_case=use_case).order_by("created_at", "pk").last()
    )
    if big is None or board is None or latest is None:
        return
    fallback = (
        [{"endpoint": small.pk, "model": small.served_models[0], "weight": 1}]
        if small is not None
        else []
    )
    Decision.objects.create(
        use_case=use_case,
        outcome=Decision.Outcome.APPROVED,
        pattern=latest.pattern,
        recommended_pattern=latest.recommended_pattern,
        overrule_reason=latest.overrule_reason,
        chosen_models=latest.chosen_models,
        conditions=latest.conditions,
        comment="Routes amended: the demo's in-house models",
        decided_by=board,
        routes=[
            {
                "workload": workload,
                "targets": [
                    {"endpoint": big.pk, "model": big.served_models[0], "weight": 1}
                ],
                "fallback": fallback,
            }
            for workload in workload_types(use_case)
        ],
    )


def seed_demo(context: dict) -> None:
    report: list[str] = context.setdefault("report", [])
    use_case = demo_use_case()
    if use_case is None:
        report.append("Gateway demo key: no approved or live demo use-case.")
        return
    ensure_demo_routes(use_case)
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
