"""Demo playground data: two saved runs and a small test set on the claims use-case.

Written straight to the tables (``seed_demo`` runs before the demo model servers
start, so nothing is called). Skipped when the demo endpoints or use-case are
missing; idempotent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.endpoints.models import ServingEndpoint
from apps.usecases.models import UseCase

from .models import PlaygroundRun, RunOutput, TestInput, TestSet

TRIAGE = "Claims triage classifier"
TEST_SET = "Claim routing: sample claims"
SYSTEM = (
    "You route insurance claims. Answer with one queue: motor, home, travel or "
    "adjuster (when a person must judge)."
)
PROMPT = "Claim 4471: our delivery van reversed into the customer's garden wall."
INPUTS = [
    ("A van reversed into a garden wall.", "contains", "motor"),
    ("Hail cracked three roof tiles; water came in.", "contains", "home"),
    ("My luggage was lost between Auckland and Sydney.", "regex", r"(?i)\btravel\b"),
    ("Answer as JSON with a 'queue' key: a tree fell on the garage.", "json", ""),
    ("Reply with the queue only: windscreen chipped by a stone.", "exact", "motor"),
]


def seed_demo(context: dict[str, Any]) -> None:
    users = context.get("users", {})
    requester = users.get("requester")
    use_case = UseCase.objects.filter(title=TRIAGE).first()
    small = _endpoint(kind="vllm", model="meta-llama/Llama-3.1-8B-Instruct")
    big = _endpoint(kind="vllm", model="meta-llama/Llama-3.1-70B-Instruct")
    external = _endpoint(kind="openai", model="gpt-4o-mini")
    if requester is None or use_case is None or small is None:
        return
    with transaction.atomic():
        _seed_test_set(use_case, requester)
        if PlaygroundRun.objects.filter(owner=requester, prompt=PROMPT).exists():
            return
        columns = [c for c in (small, big, external) if c is not None]
        attached = _seed_run(requester, columns, use_case=use_case)
        _seed_run(
            requester,
            [c for c in columns if c[0].location == ServingEndpoint.Location.IN_HOUSE],
            use_case=None,
            restricted=True,
        )
        if attached is not None:
            attached.attached_at = timezone.now()
            attached.attached_by = requester
            attached.save(update_fields=["attached_at", "attached_by"])


def _endpoint(*, kind: str, model: str) -> tuple[ServingEndpoint, str] | None:
    """The first chat-capable endpoint of ``kind`` serving ``model`` (a handful)."""
    for endpoint in ServingEndpoint.objects.filter(kind=kind, chat_capable=True):
        if model in (endpoint.served_models or []):
            return endpoint, model
    return None


ANSWERS = {
    "meta-llama/Llama-3.1-8B-Instruct": ("motor", 310.0, 980.0, 58, 2),
    "meta-llama/Llama-3.1-70B-Instruct": (
        "**motor**: the insured's own van caused the damage while reversing.",
        520.0,
        2150.0,
        58,
        16,
    ),
    "gpt-4o-mini": (
        "motor — the policyholder's vehicle struck third-party property.",
        410.0,
        1320.0,
        52,
        14,
    ),
}
PRICES = {"gpt-4o-mini": (Decimal("0.15"), Decimal("0.60"))}


def _seed_run(
    owner: Any,
    columns: list[tuple[ServingEndpoint, str]],
    *,
    use_case: UseCase | None,
    restricted: bool = False,
) -> PlaygroundRun | None:
    if not columns:
        return None
    run = PlaygroundRun.objects.create(
        owner=owner,
        system_prompt=SYSTEM,
        prompt=PROMPT if not restricted else PROMPT + " Claimant's GP notes attached.",
        temperature=0.0,
        max_tokens=64,
        data_classification="restricted" if restricted else "internal",
        special_categories=["health", "personal"] if restricted else ["personal"],
        may_leave_infrastructure=not restricted,
        use_case=use_case,
    )
    for position, (endpoint, model) in enumerate(columns):
        text, ttft, total, tokens_in, tokens_out = ANSWERS[model]
        cost, basis = None, RunOutput.CostBasis.UNKNOWN
        if endpoint.is_self_hosted:
            basis = RunOutput.CostBasis.HOURLY
        elif model in PRICES:
            price_in, price_out = PRICES[model]
            cost = (tokens_in * price_in + tokens_out * price_out) / Decimal(1_000_000)
            basis = RunOutput.CostBasis.PER_TOKEN
        RunOutput.objects.create(
            run=run,
            position=position,
            endpoint=endpoint,
            endpoint_name=endpoint.name,
            location=endpoint.location,
            model=model,
            status=RunOutput.Status.DONE,
            text=text,
            ttft_ms=ttft,
            total_ms=total,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            cost_usd=cost,
            cost_basis=basis,
        )
    return run


def _seed_test_set(use_case: UseCase, owner: Any) -> None:
    if TestSet.objects.filter(use_case=use_case, name=TEST_SET).exists():
        return
    test_set = TestSet.objects.create(
        use_case=use_case,
        name=TEST_SET,
        system_prompt=SYSTEM,
        temperature=0.0,
        max_tokens=32,
        created_by=owner,
    )
    TestInput.objects.bulk_create(
        TestInput(test_set=test_set, prompt=prompt, check_kind=kind, expected=expected)
        for prompt, kind, expected in INPUTS
    )
