"""Helpers for the review tests: use-cases already waiting for the board."""

from __future__ import annotations

import uuid

import pytest

from apps.usecases.models import UseCase
from apps.usecases.services import transition_use_case
from tests.factories import ServingEndpointFactory, UseCaseFactory


def submitted(owner, **fields):  # type: ignore[no-untyped-def]
    """A use-case moved to submitted by the real service (so the trail is real)."""
    use_case = UseCaseFactory(owner=owner, **fields)
    transition_use_case(use_case=use_case, to_status=UseCase.Status.SUBMITTED, by=owner)
    return use_case


@pytest.fixture
def waiting(alice):  # type: ignore[no-untyped-def]
    return submitted(alice, title="Claims triage")


def assess(use_case, **overrides):  # type: ignore[no-untyped-def]
    """Store an assessment of the use-case as it is now, through the framework's
    own service (seed catalogue); returns it, or None if the answer is unchanged."""
    from apps.framework.engine import load_seed_catalogue
    from apps.framework.services import assess_use_case

    return assess_use_case(
        use_case=use_case, trigger="manual", catalogue=load_seed_catalogue()
    )


def record_assessment(use_case, *, outcome=None, monthly_cost=None):  # type: ignore[no-untyped-def]
    """A stored assessment with a real engine result, optionally overriding the
    outcome and cost (to set up a recommendation the board then overrules)."""
    from apps.framework.engine import load_seed_catalogue
    from apps.framework.inputs import inputs_for_use_case
    from apps.framework.models import Assessment, Policy
    from apps.framework.services import evaluate_inputs

    inputs = inputs_for_use_case(use_case)
    catalogue = load_seed_catalogue()
    evaluation = evaluate_inputs(inputs=inputs, catalogue=catalogue)
    result = dict(evaluation.result, outcome=outcome or evaluation.outcome)
    cost = monthly_cost
    if cost is None:
        cost = result["costs"].get("recommended_monthly_cost")
    return Assessment.objects.create(
        use_case=use_case,
        trigger="manual",
        inputs=inputs.as_dict(),
        policy_version=Policy.objects.current(),
        price_snapshot=catalogue.snapshot.id,
        outcome=result["outcome"],
        result=result,
        cost_curves=evaluation.curves,
        monthly_cost=Assessment.money(cost),
        break_even_requests_per_day=result.get("break_even_requests_per_day"),
        fingerprint=uuid.uuid4().hex,
    )


@pytest.fixture
def recommend():  # type: ignore[no-untyped-def]
    """Give a use-case a latest assessment recommending `outcome`."""
    return lambda use_case, outcome: record_assessment(use_case, outcome=outcome)


@pytest.fixture
def llama(db):  # type: ignore[no-untyped-def]
    return ServingEndpointFactory(
        name="Llama box", served_models=["llama-3.1-8b", "llama-3.1-70b"]
    )


@pytest.fixture
def openai(db):  # type: ignore[no-untyped-def]
    return ServingEndpointFactory(
        name="OpenAI",
        kind="openai",
        location="external",
        served_models=["gpt-4o", "gpt-4o-mini"],
    )


def assessed_per_workload(use_case, outcomes):  # type: ignore[no-untyped-def]
    """Store an assessment (real engine result) whose per-workload routing sends
    each workload to the given hosting outcome."""
    import uuid

    from apps.framework.engine import load_seed_catalogue
    from apps.framework.inputs import inputs_for_use_case
    from apps.framework.models import Assessment, Policy
    from apps.framework.services import evaluate_inputs

    inputs = inputs_for_use_case(use_case)
    catalogue = load_seed_catalogue()
    evaluation = evaluate_inputs(inputs=inputs, catalogue=catalogue)
    result = dict(evaluation.result, outcome="hybrid")
    result["workloads"] = [
        dict(w, outcome=outcomes[w["task_type"]]) for w in result["workloads"]
    ]
    return Assessment.objects.create(
        use_case=use_case,
        trigger="manual",
        inputs=inputs.as_dict(),
        policy_version=Policy.objects.current(),
        price_snapshot=catalogue.snapshot.id,
        outcome="hybrid",
        result=result,
        cost_curves=evaluation.curves,
        monthly_cost=None,
        fingerprint=uuid.uuid4().hex,
    )
