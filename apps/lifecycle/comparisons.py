"""The upgrade gate: a use-case's own test sets on incumbent and candidate.

A comparison runs every test set of the use-case on the route's incumbent
target and the candidate (one test set run each, in a Celery task, progress
stored as it goes), then scores them side by side: pass rate per check,
latency p50 / p95, cost per 1,000 requests, the judge's own cost and the
failing cases. A candidate that fails more cases than the incumbent (beyond the
policy's tolerance) is blocked; one that passes may be adopted by the board as
an amendment of the routes, with the comparison as its evidence.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import Truncator

from apps.gateway.routes import current_routes
from apps.playground import judge
from apps.playground.guard import DataDeclaration, GuardRefused, check_targets
from apps.playground.models import TestResult, TestSetRun, can_manage_test_sets
from apps.playground.services import (
    UnknownTarget,
    execute_test_set_run,
    resolve_targets,
)
from apps.reviews.models import Decision
from apps.reviews.services import amend_routes, may_decide
from apps.usecases.models import AuditEvent

from .models import Comparison
from .policy import current_policy

if TYPE_CHECKING:
    from apps.accounts.models import User

INCUMBENT, CANDIDATE = 0, 1
FAILURES_SHOWN = 50


def may_start(user: User, comparison: Comparison) -> bool:
    return may_decide(user) or can_manage_test_sets(user, comparison.use_case)


def start_comparison(
    *,
    comparison: Comparison,
    by: User,
    candidate: dict[str, Any] | None = None,
) -> Comparison:
    """Queue the test set runs of a comparison.

    Raises ``PermissionDenied``, or ``ValidationError`` with field errors (no
    test sets, no endpoint for the candidate, a target the data may not go to,
    a judge the data profile forbids); nothing is recorded then, but the
    guard's own audit of a refused target.
    """
    if not may_start(by, comparison):
        raise PermissionDenied("You may not run this use-case's test sets.")
    if comparison.status not in (
        Comparison.Status.PROPOSED,
        Comparison.Status.FAILED,
    ):
        raise ValidationError(
            {"status": f"This comparison is {comparison.get_status_display().lower()}."}
        )
    use_case = comparison.use_case
    chosen = candidate or comparison.candidate
    if not chosen:
        name = comparison.candidate_model.name if comparison.candidate_model else ""
        raise ValidationError(
            {
                "candidate": f"No endpoint serves {name or 'the candidate'} yet; "
                "choose an endpoint and model to compare."
            }
        )
    test_sets = [
        t for t in use_case.test_sets.prefetch_related("inputs") if t.inputs.all()
    ]
    if not test_sets:
        raise ValidationError(
            {
                "test_sets": "This use-case has no test set with inputs; add one "
                "before comparing models."
            }
        )
    keys = [
        (comparison.incumbent["endpoint"], comparison.incumbent["model"]),
        (chosen.get("endpoint"), chosen.get("model")),
    ]
    try:
        resolved = resolve_targets(keys)
    except (UnknownTarget, TypeError) as exc:
        raise ValidationError({"candidate": str(exc)}) from None
    declaration = DataDeclaration.of_use_case(use_case)
    try:
        check_targets(
            declaration=declaration,
            targets=[(endpoint.name, endpoint.location) for endpoint, _ in resolved],
            user=by,
            via="comparison",
        )
    except GuardRefused as exc:
        raise ValidationError({"candidate": exc.message}) from None
    for test_set in test_sets:
        problem = judge.judge_problem(test_set)
        if problem:
            raise ValidationError({"test_sets": f"{test_set.name}: {problem}"})
    described = [
        {
            "position": position,
            "endpoint": endpoint.pk,
            "endpoint_name": endpoint.name,
            "location": endpoint.location,
            "model": model,
            "self_hosted": endpoint.is_self_hosted,
        }
        for position, (endpoint, model) in enumerate(resolved)
    ]
    from .tasks import run_comparison

    with transaction.atomic():
        runs = [
            TestSetRun.objects.create(
                test_set=test_set,
                targets=described,
                total=len(test_set.inputs.all()) * len(described),
                started_by=by,
            )
            for test_set in test_sets
        ]
        comparison.candidate = {"endpoint": keys[1][0], "model": keys[1][1]}
        comparison.status = Comparison.Status.RUNNING
        comparison.started_by = by
        comparison.error = ""
        comparison.result = {}
        comparison.save(
            update_fields=["candidate", "status", "started_by", "error", "result"]
        )
        comparison.runs.set(runs)
        AuditEvent.record(
            kind="lifecycle.comparison_started",
            summary=f"Comparison of {keys[0][1]} with {keys[1][1]} started",
            actor=by,
            use_case=use_case,
            data={"comparison_id": comparison.pk, "runs": [r.pk for r in runs]},
        )
        run_comparison.delay_on_commit(comparison.pk)
    return comparison


def progress(comparison: Comparison) -> int:
    runs = list(comparison.runs.all())
    total = sum(r.total for r in runs)
    done = sum(r.completed for r in runs)
    if not total:
        return 100 if comparison.status != Comparison.Status.RUNNING else 0
    return min(100, round(100 * done / total))


def execute_comparison(*, comparison_id: int) -> Comparison | None:
    """Run what is left of each test set run, grade the judge's cases, score.

    Safe to run twice: each run resumes (results are unique) and a finished
    comparison is left alone.
    """
    comparison = (
        Comparison.objects.select_related("use_case").filter(pk=comparison_id).first()
    )
    if comparison is None or comparison.status != Comparison.Status.RUNNING:
        return comparison
    runs = list(comparison.runs.order_by("pk"))
    for run in runs:
        execute_test_set_run(run_id=run.pk)
        judge.grade_run(run_id=run.pk)
    runs = list(comparison.runs.order_by("pk"))
    failed = [r for r in runs if r.status == TestSetRun.Status.FAILED]
    comparison.finished_at = timezone.now()
    if failed:
        comparison.status = Comparison.Status.FAILED
        comparison.error = "; ".join(f"{r.test_set}: {r.error}" for r in failed)
    else:
        comparison.result = score(comparison, runs=runs)
        comparison.status = (
            Comparison.Status.PASSED
            if comparison.result["gate"]["passed"]
            else Comparison.Status.BLOCKED
        )
    comparison.save(update_fields=["status", "error", "result", "finished_at"])
    AuditEvent.record(
        kind="lifecycle.comparison_finished",
        summary=f"Comparison finished: {comparison.get_status_display().lower()}",
        use_case=comparison.use_case,
        data={"comparison_id": comparison.pk, "status": comparison.status},
    )
    return comparison


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` in 0..1), None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def score(comparison: Comparison, *, runs: list[TestSetRun]) -> dict[str, Any]:
    """Both sides' figures and the gate's verdict, as stored in ``result``."""
    results = list(
        TestResult.objects.filter(run__in=runs)
        .select_related("test_input__test_set")
        .order_by("run_id", "test_input_id", "position")
    )
    sides = []
    for position in (INCUMBENT, CANDIDATE):
        mine = [r for r in results if r.position == position]
        target = runs[0].targets[position] if runs else {}
        sides.append(_side(target, mine))
    tolerance = current_policy().regression_tolerance
    incumbent_failed = sides[INCUMBENT]["failed"]
    candidate_failed = sides[CANDIDATE]["failed"]
    passed = candidate_failed <= incumbent_failed + tolerance
    reason = (
        f"The candidate fails {candidate_failed} case(s), the incumbent "
        f"{incumbent_failed}; the policy tolerates {tolerance} more."
    )
    return {
        "incumbent": sides[INCUMBENT],
        "candidate": sides[CANDIDATE],
        "gate": {"passed": passed, "tolerance": tolerance, "reason": reason},
    }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.4f}"


def _side(target: dict[str, Any], results: list[TestResult]) -> dict[str, Any]:
    checks: dict[str, dict[str, int]] = {}
    for r in results:
        row = checks.setdefault(r.test_input.check_kind, {"passed": 0, "count": 0})
        row["count"] += 1
        row["passed"] += int(r.passed)
    answered = [r for r in results if not r.error]
    latencies = [r.latency_ms for r in answered if r.latency_ms is not None]
    costs = [r.cost_usd for r in answered if r.cost_usd is not None]
    cost_per_1000 = None
    if answered and len(costs) == len(answered):
        cost_per_1000 = sum(costs, Decimal(0)) / len(costs) * 1000
    judge_costs = [r.judge_cost_usd for r in results if r.judge_cost_usd is not None]
    passed = sum(1 for r in results if r.passed)
    failures = [
        {
            "test_set": r.test_input.test_set.name,
            "input": r.test_input_id,
            "prompt": Truncator(r.test_input.prompt).chars(200),
            "check": r.test_input.check_kind,
            "output": Truncator(r.output).chars(300),
            "error": r.error,
            "verdict": r.judge_verdict,
        }
        for r in results
        if not r.passed
    ]
    return {
        "endpoint": target.get("endpoint"),
        "endpoint_name": target.get("endpoint_name", ""),
        "model": target.get("model", ""),
        "location": target.get("location", ""),
        "count": len(results),
        "passed": passed,
        "failed": len(results) - passed,
        "pass_rate": round(passed / len(results), 4) if results else None,
        "checks": {
            kind: {**row, "pass_rate": round(row["passed"] / row["count"], 4)}
            for kind, row in sorted(checks.items())
        },
        "latency_p50_ms": percentile(latencies, 0.5),
        "latency_p95_ms": percentile(latencies, 0.95),
        "cost_per_1000_usd": _money(cost_per_1000),
        "self_hosted": bool(target.get("self_hosted")),
        "judge_cost_usd": _money(sum(judge_costs, Decimal(0))) if judge_costs else None,
        "failures": failures[:FAILURES_SHOWN],
    }


def adopt_comparison(
    *, comparison: Comparison, by: User, comment: str = ""
) -> Decision:
    """Adopt a passing candidate: amend the routes, replacing the incumbent
    target of the workload by the candidate (same weight).

    Raises ``PermissionDenied`` (not the board) or ``ValidationError`` (not
    passed, the incumbent no longer routed); nothing is recorded then.
    """
    if not may_decide(by):
        raise PermissionDenied("Only the architecture board adopts an upgrade.")
    if comparison.status != Comparison.Status.PASSED:
        raise ValidationError(
            {
                "status": "Only a candidate that passed the gate may be adopted; "
                f"this comparison is {comparison.get_status_display().lower()}."
                + (
                    f" {comparison.result['gate']['reason']}"
                    if comparison.result.get("gate")
                    else ""
                )
            }
        )
    use_case = comparison.use_case
    incumbent = (comparison.incumbent["endpoint"], comparison.incumbent["model"])
    candidate = comparison.candidate or {}
    new = {"endpoint": candidate.get("endpoint"), "model": candidate.get("model")}
    routes = current_routes(use_case)
    replaced = False
    for route in routes:
        if route.get("workload") != comparison.workload:
            continue
        targets = []
        for target in route.get("targets") or []:
            if (target.get("endpoint"), target.get("model")) == incumbent:
                targets.append({**new, "weight": target.get("weight", 1)})
                replaced = True
            else:
                targets.append(target)
        route["targets"] = targets
        route["fallback"] = [
            t
            for t in route.get("fallback") or []
            if (t.get("endpoint"), t.get("model")) != (new["endpoint"], new["model"])
        ]
    if not replaced:
        raise ValidationError(
            {
                "status": "The routes in force no longer send this workload to "
                f"{incumbent[1]}; nothing to replace."
            }
        )
    message = (
        f"Upgrade of {comparison.workload} from {incumbent[1]} to {new['model']}, "
        f"evidence: comparison #{comparison.pk} ({comparison.get_absolute_url()})"
    )
    if comment.strip():
        message += f". {comment.strip()}"
    with transaction.atomic():
        decision = amend_routes(
            use_case=use_case, by=by, routes=routes, comment=message
        )
        updated = Comparison.objects.filter(
            pk=comparison.pk, status=Comparison.Status.PASSED
        ).update(status=Comparison.Status.ADOPTED, adopted_decision_id=decision.pk)
        if not updated:
            raise ValidationError({"status": "This comparison was adopted already."})
        AuditEvent.record(
            kind="lifecycle.upgrade_adopted",
            summary=message[:300],
            actor=by,
            use_case=use_case,
            data={"comparison_id": comparison.pk, "decision_id": decision.pk},
        )
    comparison.status = Comparison.Status.ADOPTED
    comparison.adopted_decision_id = decision.pk
    return decision


def dismiss_comparison(*, comparison: Comparison, by: User) -> Comparison:
    if not may_decide(by):
        raise PermissionDenied("Only the architecture board dismisses a proposal.")
    if comparison.status in (Comparison.Status.ADOPTED, Comparison.Status.RUNNING):
        raise ValidationError(
            {"status": f"A comparison {comparison.get_status_display().lower()} stays."}
        )
    comparison.status = Comparison.Status.DISMISSED
    comparison.save(update_fields=["status"])
    return comparison
