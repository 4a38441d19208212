"""The LLM judge: a model grades an answer against a rubric of criteria.

A test set's `judge` checks are graded after its run, by the test set's judge
endpoint and model. The judge sees the use-case's data (the prompt and the
answer), so it obeys the same guard as the run: never an external endpoint for
data that must stay in-house. The judge is asked to answer ``PASS`` or
``FAIL`` on its first line, then a reason; anything else is a failed grading.
Its tokens are priced like any call and shown as the judge's own cost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from asgiref.sync import async_to_sync

from apps.endpoints.models import ServingEndpoint

from .checks import CheckKind, rubric_criteria
from .clients import ChatRequest
from .guard import DataDeclaration
from .models import TestResult, TestSet

if TYPE_CHECKING:
    from apps.usecases.models import UseCase

JUDGE_SYSTEM_PROMPT = (
    "You grade an answer against a rubric. Every criterion must hold for the "
    "answer to pass. Reply with PASS or FAIL on the first line, then one line "
    "saying why."
)
JUDGE_MAX_TOKENS = 200
_VERDICT = re.compile(r"^\W*(PASS|FAIL)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    text: str
    cost_usd: Decimal | None


def judge_endpoint_problem(
    *, use_case: UseCase, endpoint: ServingEndpoint | None, model: str
) -> str | None:
    """Why the judge may not run there for this use-case's data, or None."""
    if endpoint is None:
        return "Choose the endpoint the LLM judge runs on."
    if not endpoint.chat_capable:
        return f"“{endpoint.name}” does not serve chat completions."
    if not model:
        return "Name the model the judge uses."
    served = endpoint.served_models or []
    if served and model not in served:
        return f"“{endpoint.name}” does not serve {model}."
    declaration = DataDeclaration.of_use_case(use_case)
    if endpoint.location != ServingEndpoint.Location.IN_HOUSE and not (
        declaration.may_leave()
    ):
        return (
            f"“{endpoint.name}” is external and this use-case's data must stay "
            f"in-house ({declaration.describe()}); the judge reads that data, so it "
            "must run on an in-house endpoint."
        )
    return None


def judge_problem(test_set: TestSet) -> str | None:
    """Why the test set's judge checks cannot be graded, or None (also None
    when it has no judge checks)."""
    if not any(i.check_kind == CheckKind.JUDGE for i in test_set.inputs.all()):
        return None
    return judge_endpoint_problem(
        use_case=test_set.use_case,
        endpoint=test_set.judge_endpoint,
        model=test_set.judge_model,
    )


def judge_prompt(*, question: str, answer: str, rubric: str) -> str:
    criteria = "\n".join(f"- {c}" for c in rubric_criteria(rubric))
    return f"Rubric:\n{criteria}\n\nQuestion:\n{question}\n\nAnswer to grade:\n{answer}"


def parse_verdict(text: str) -> bool | None:
    match = _VERDICT.match(text.strip())
    return None if match is None else match.group(1).upper() == "PASS"


def grade(*, test_set: TestSet, question: str, answer: str, rubric: str) -> Verdict:
    """Ask the test set's judge; the caller has checked :func:`judge_problem`."""
    from .services import build_targets

    endpoint = test_set.judge_endpoint
    assert endpoint is not None  # checked by judge_problem
    [target] = build_targets([(endpoint, test_set.judge_model)])
    from .runner import run_columns

    request = ChatRequest(
        model=test_set.judge_model,
        prompt=judge_prompt(question=question, answer=answer, rubric=rubric),
        system_prompt=JUDGE_SYSTEM_PROMPT,
        temperature=0.0,
        max_tokens=JUDGE_MAX_TOKENS,
    )
    [result] = async_to_sync(run_columns)(targets=[target], request=request)
    cost, _ = target.cost(
        input_tokens=result.input_tokens, output_tokens=result.output_tokens
    )
    if result.error:
        return Verdict(False, f"The judge failed: {result.error}", cost)
    passed = parse_verdict(result.text)
    if passed is None:
        return Verdict(False, f"The judge gave no verdict: {result.text[:500]}", cost)
    return Verdict(passed, result.text.strip()[:2000], cost)


def grade_run(*, run_id: int) -> int:
    """Grade a run's answered judge checks not graded yet; returns how many."""
    pending = list(
        TestResult.objects.filter(
            run_id=run_id,
            test_input__check_kind=CheckKind.JUDGE,
            error="",
            judge_verdict="",
        ).select_related(
            "test_input", "run__test_set__use_case", "run__test_set__judge_endpoint"
        )
    )
    if not pending:
        return 0
    test_set = pending[0].run.test_set
    problem = judge_problem(test_set)
    for result in pending:
        if problem:
            verdict = Verdict(False, f"Not graded: {problem}", None)
        else:
            verdict = grade(
                test_set=test_set,
                question=result.test_input.prompt,
                answer=result.output,
                rubric=result.test_input.expected,
            )
        result.passed = verdict.passed
        result.judge_verdict = verdict.text or "(empty verdict)"
        result.judge_cost_usd = verdict.cost_usd
        result.save(update_fields=["passed", "judge_verdict", "judge_cost_usd"])
    return len(pending)
