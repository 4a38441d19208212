"""Assessing use-cases: evaluate with the current policy and catalogue, and keep a
snapshot whenever the answer changes.

`assess_use_case` is the one writer of `Assessment` rows; `reassess_all` runs it
over the portfolio after a policy or price change (and for `manage.py reassess`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction

from apps.usecases.models import AuditEvent, UseCase

from .catalogue import current_catalogue
from .engine import DEFAULT_POLICY, Catalogue, InputError, Inputs, cost_curves, evaluate
from .engine import Assessment as EngineAssessment
from .engine import Policy as EnginePolicy
from .inputs import inputs_for_use_case
from .models import Assessment, Outcome, Policy, Trigger

if TYPE_CHECKING:
    from apps.accounts.models import User

logger = logging.getLogger(__name__)

# Use-cases whose recommendation is kept current; drafts get the live preview.
NOT_REASSESSED = (UseCase.Status.DRAFT, UseCase.Status.RETIRED)


@dataclass(frozen=True)
class Evaluation:
    """An evaluation that is not (yet) stored: what the pages and the API show."""

    inputs: Inputs
    assessment: EngineAssessment
    result: dict[str, Any]
    curves: list[dict[str, Any]]
    policy_label: str

    @property
    def outcome(self) -> str:
        return self.assessment.outcome


_engine_policies: dict[int, EnginePolicy] = {}


def current_engine_policy() -> EnginePolicy:
    """The current policy in engine form, without creating one (the defaults
    before any version is stored). Versions never change, so each is parsed once
    per process; the check is one small query."""
    table = connection.ops.quote_name(Policy._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} ORDER BY number DESC LIMIT 1")
        row = cursor.fetchone()
    if row is None:
        return DEFAULT_POLICY
    policy = _engine_policies.get(row[0])
    if policy is None:
        policy = Policy.objects.get(pk=row[0]).engine_policy()
        _engine_policies[row[0]] = policy
    return policy


def evaluate_inputs(
    *,
    inputs: Inputs,
    policy: EnginePolicy | None = None,
    catalogue: Catalogue | None = None,
    with_curves: bool = True,
) -> Evaluation:
    """Run the framework without saving anything (API evaluate, live preview).

    `with_curves` adds the cost curves for the chart (the API has no use for them).
    """
    if policy is None:
        policy = current_engine_policy()
    if catalogue is None:
        catalogue = current_catalogue(fallback_to_seed=True)
    assessment = evaluate(inputs, policy, catalogue)
    curves = []
    if with_curves:
        assumptions = policy.assumptions(
            mlops_readiness=inputs.mlops_readiness, horizon=inputs.horizon
        )
        curves = [
            c.as_dict() for c in cost_curves(assessment.costs, assumptions=assumptions)
        ]
    return Evaluation(
        inputs=inputs,
        assessment=assessment,
        result=assessment.as_dict(),
        curves=curves,
        policy_label=policy.version,
    )


def _strip(value: Any, key: str) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v, key) for k, v in value.items() if k != key}
    if isinstance(value, list):
        return [_strip(v, key) for v in value]
    return value


def answer_fingerprint(
    inputs: dict[str, Any], result: dict[str, Any], policy_label: str
) -> str:
    """Identifies an answer: the same inputs and result, whatever the labels of
    the policy version and price snapshot that produced it."""
    answer = {k: v for k, v in result.items() if k != "price_snapshot"}
    text = json.dumps(
        {"inputs": inputs, "answer": _strip(answer, "policy_version")},
        sort_keys=True,
        separators=(",", ":"),
    ).replace(f"policy {policy_label}", "policy *")
    return hashlib.sha256(text.encode()).hexdigest()


def assess_use_case(
    *,
    use_case: UseCase,
    trigger: str,
    by: User | None = None,
    policy: Policy | None = None,
    catalogue: Catalogue | None = None,
) -> Assessment | None:
    """Store a new assessment if the answer differs from the latest (or none exists).

    Returns the new Assessment, or None when nothing changed or the use-case's
    inputs are incomplete (a draft without workloads). Records an AuditEvent.
    `policy` and `catalogue` default to the current ones (passed in by
    `reassess_all` to load them once).
    """
    if trigger not in Trigger.values:
        raise ValueError(f"unknown trigger {trigger!r}")
    policy = policy or Policy.objects.current()
    catalogue = catalogue or current_catalogue()
    with transaction.atomic():
        # The lock serialises concurrent assessments of one use-case.
        locked = UseCase.objects.select_for_update().get(pk=use_case.pk)
        try:
            inputs = inputs_for_use_case(locked)
        except InputError as exc:
            logger.info("use-case %s not assessed: %s", use_case.pk, exc)
            return None
        evaluation = evaluate_inputs(
            inputs=inputs, policy=policy.engine_policy(), catalogue=catalogue
        )
        inputs_data = inputs.as_dict()
        fingerprint = answer_fingerprint(
            inputs_data, evaluation.result, evaluation.policy_label
        )
        latest = (
            Assessment.objects.filter(use_case=locked)
            .newest_first()
            .only("pk", "fingerprint", "outcome")
            .first()
        )
        if latest is not None and latest.fingerprint == fingerprint:
            return None
        result = evaluation.result
        costs = result["costs"]
        assessment = Assessment.objects.create(
            use_case=locked,
            created_by=by,
            trigger=trigger,
            inputs=inputs_data,
            policy_version=policy,
            price_snapshot=catalogue.snapshot.id,
            outcome=evaluation.outcome,
            result=result,
            cost_curves=evaluation.curves,
            monthly_cost=Assessment.money(costs.get("recommended_monthly_cost")),
            break_even_requests_per_day=result.get("break_even_requests_per_day"),
            fingerprint=fingerprint,
        )
        label = Outcome(evaluation.outcome).label
        previous = Outcome(latest.outcome).label if latest is not None else None
        AuditEvent.record(
            kind="framework.assessed",
            summary=(
                f"Assessed ({Trigger(trigger).label.lower()}): {label}"
                + (f", was {previous}" if previous and previous != label else "")
            ),
            actor=by,
            use_case=locked,
            data={
                "assessment": assessment.pk,
                "trigger": trigger,
                "outcome": evaluation.outcome,
                "previous_assessment": latest.pk if latest is not None else None,
                "previous_outcome": latest.outcome if latest is not None else None,
                "policy_version": policy.number,
                "price_snapshot": catalogue.snapshot.id,
                "monthly_cost": costs.get("recommended_monthly_cost"),
            },
        )
    return assessment


@dataclass
class ReassessReport:
    checked: int = 0
    created: list[Assessment] = field(default_factory=list)
    changed_outcome: list[Assessment] = field(default_factory=list)


def reassess_all(
    *,
    trigger: str,
    by: User | None = None,
    use_cases: Iterable[UseCase] | None = None,
) -> ReassessReport:
    """Re-assess every active use-case (not drafts or retired ones).

    Each use-case is its own transaction, so one failure leaves the rest done.
    """
    policy = Policy.objects.current()
    catalogue = current_catalogue()
    if use_cases is None:
        use_cases = (
            UseCase.objects.exclude(status__in=NOT_REASSESSED)
            .prefetch_related("workloads")
            .order_by("pk")
        )
    report = ReassessReport()
    for use_case in use_cases:
        report.checked += 1
        before = (
            Assessment.objects.filter(use_case=use_case)
            .newest_first()
            .values_list("outcome", flat=True)
            .first()
        )
        assessment = assess_use_case(
            use_case=use_case,
            trigger=trigger,
            by=by,
            policy=policy,
            catalogue=catalogue,
        )
        if assessment is not None:
            report.created.append(assessment)
            if before is not None and before != assessment.outcome:
                report.changed_outcome.append(assessment)
    return report


def change_policy(
    *, data: dict[str, Any], by: User, note: str = ""
) -> tuple[Policy, ReassessReport]:
    """Store a new policy version (validated by the engine) and re-assess.

    Raises the engine's InputError, naming each bad setting.
    """
    values = {k: v for k, v in data.items() if k != "version"}
    stored = EnginePolicy.from_dict(values).as_dict()
    stored.pop("version")
    with transaction.atomic():
        current = Policy.objects.select_for_update().current()
        policy = Policy.objects.create(
            number=current.number + 1,
            data=stored,
            note=note[:300],
            created_by=by,
        )
        AuditEvent.record(
            kind="framework.policy_changed",
            summary=f"Policy {policy.label} replaces {current.label}"
            + (f": {note}" if note else ""),
            actor=by,
            data={
                "policy_version": policy.number,
                "changes": [
                    {"setting": name, "old": old, "new": new}
                    for name, old, new in policy.changes_from(current)
                ],
            },
        )
    return policy, reassess_all(trigger=Trigger.POLICY_CHANGED, by=by)
