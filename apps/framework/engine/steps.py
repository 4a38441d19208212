"""The five steps of the framework (DESIGN §3), one function each.

Each returns a StepResult whose rationale names the numbers it used. ``lean`` is
+1/+2 towards open models, -1/-2 towards proprietary APIs, 0 for neutral.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .costs import CostComparison
from .policy import Policy
from .types import COMPLEXITIES, TASK_COMPLEXITY, Inputs, StepResult, Workload

_MEMO: dict[tuple[Any, ...], tuple[object, StepResult]] = {}
_MEMO_SIZE = 4_096


def _memoised(
    policy: object, key: tuple[Any, ...], build: Callable[[], StepResult]
) -> StepResult:
    """A step result reused for the same policy object and arguments.

    Steps other than volume depend on a handful of choices, so across a portfolio
    the same few results recur; they are immutable, so sharing them is safe. The
    policy is matched by identity (and kept alive with the entry) because hashing
    a whole policy costs more than the step.
    """
    full = (id(policy), *key)
    hit = _MEMO.get(full)
    if hit is not None and hit[0] is policy:
        return hit[1]
    result = build()
    if len(_MEMO) >= _MEMO_SIZE:
        _MEMO.clear()
    _MEMO[full] = (policy, result)
    return result


def fmt_count(value: float) -> str:
    return f"{value:,.0f}"


def fmt_money(value: float) -> str:
    if value >= 100:
        return f"${value:,.0f}"
    if value >= 1:
        return f"${value:,.2f}"
    return f"${value:.3g}"


def join_words(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def reasons_data_may_not_leave(inputs: Inputs, policy: Policy) -> tuple[str, ...]:
    """Why data may not leave our infrastructure; empty when it may."""
    reasons = []
    if inputs.data_classification in policy.classifications_that_may_not_leave:
        reasons.append(f"{inputs.data_classification} data")
    categories = sorted(
        inputs.special_categories & set(policy.categories_that_may_not_leave)
    )
    if categories:
        reasons.append(f"{join_words(categories)} data")
    if inputs.must_stay_in_infrastructure:
        reasons.append("the requester's answer that the data must stay in-house")
    return tuple(reasons)


def data_governance(inputs: Inputs, policy: Policy) -> StepResult:
    """Step 1: data that may not leave decides open-source self-hosted outright."""
    key = (
        "data_governance",
        inputs.data_classification,
        inputs.special_categories,
        inputs.must_stay_in_infrastructure,
    )
    return _memoised(policy, key, lambda: _data_governance(inputs, policy))


def _data_governance(inputs: Inputs, policy: Policy) -> StepResult:
    reasons = reasons_data_may_not_leave(inputs, policy)
    numbers = {
        "data_classification": inputs.data_classification,
        "special_categories": sorted(inputs.special_categories),
        "must_stay_in_infrastructure": inputs.must_stay_in_infrastructure,
        "policy_version": policy.version,
    }
    if reasons:
        return StepResult(
            step="data_governance",
            verdict="open_source_self_hosted",
            rationale=(
                f"Because of {join_words(list(reasons))}, the data may not leave our "
                f"infrastructure (policy {policy.version}). Proprietary APIs and "
                "external managed services are ruled out: the model must be an open "
                "one running on infrastructure we control. This is decided whatever "
                "the other steps say; they still run to flag risks."
            ),
            lean=0,
            decided=True,
            numbers=numbers,
        )
    allowed = sorted(inputs.special_categories)
    note = (
        f" It includes {join_words(allowed)} data, which the policy lets leave: "
        "check the provider's data-processing terms."
        if allowed
        else ""
    )
    return StepResult(
        step="data_governance",
        verdict="data_may_leave",
        rationale=(
            f"{inputs.data_classification.capitalize()} data may go to external "
            f"providers under policy {policy.version}, and the requester did not ask "
            f"to keep it in-house, so every option stays open.{note}"
        ),
        numbers=numbers,
    )


def _threshold_sentence(requests_per_day: float, policy: Policy) -> tuple[int, str]:
    volume, low, high = (
        fmt_count(requests_per_day),
        policy.volume_low,
        policy.volume_high,
    )
    if requests_per_day < low:
        return -1, (
            f"{volume} requests a day is below the {fmt_count(low)} a day under which "
            "proprietary APIs are usually simpler and cost-competitive"
        )
    if requests_per_day > high:
        return 1, (
            f"{volume} requests a day is above the {fmt_count(high)} a day where "
            "self-hosting usually wins"
        )
    return 0, (
        f"{volume} requests a day is between {fmt_count(low)} and {fmt_count(high)} "
        "a day, where both are usually viable"
    )


_BE_NUMBERS: dict[int, tuple[object, dict[str, object]]] = {}


def _break_even_numbers(be: Any) -> dict[str, object]:
    """The rounded break-even figures, once per comparison (shared by volumes)."""
    hit = _BE_NUMBERS.get(id(be))
    if hit is not None and hit[0] is be:
        return hit[1]
    point, gpu_only = be.fully_loaded.requests_per_day, be.gpu_only.requests_per_day
    numbers: dict[str, object] = {
        "break_even_fully_loaded": None if point is None else round(point),
        "break_even_gpu_only": None if gpu_only is None else round(gpu_only),
        "api_model": be.api_model_key,
        "self_hosted_model": be.self_hosted_model_key,
        "api_cost_per_request": round(be.api_cost_per_request, 6),
        "self_hosted_marginal_cost_per_request": round(
            be.self_hosted_marginal_cost_per_request, 6
        ),
    }
    if len(_BE_NUMBERS) >= 4_096:
        _BE_NUMBERS.clear()
    _BE_NUMBERS[id(be)] = (be, numbers)
    return numbers


def _threshold_lean(requests_per_day: float, policy: Policy) -> int:
    if requests_per_day < policy.volume_low:
        return -1
    return 1 if requests_per_day > policy.volume_high else 0


def volume(
    *, requests_per_day: float, comparison: CostComparison, policy: Policy
) -> StepResult:
    """Step 2: volume against the cost model's break-even (or fixed thresholds).

    The rationale is written only when read (see StepResult): this step runs for
    every workload of every evaluation and its words are the costliest part.
    """
    lean = _threshold_lean(requests_per_day, policy)
    numbers: dict[str, object] = {
        "requests_per_day": round(requests_per_day, 1),
        "volume_low": policy.volume_low,
        "volume_high": policy.volume_high,
    }

    def sentence() -> str:
        return _threshold_sentence(requests_per_day, policy)[1]

    be = comparison.break_even
    if be is None:
        why = comparison.note or "No cost comparison is possible."
        return StepResult(
            step="volume",
            verdict=_VOLUME_VERDICT[lean],
            rationale=lambda: f"{sentence()}. {why} The fixed thresholds apply.",
            lean=lean,
            numbers=numbers,
        )
    point, gpu_only = be.fully_loaded.requests_per_day, be.gpu_only.requests_per_day
    numbers.update(_break_even_numbers(be))

    def pair() -> str:
        return f"{be.self_hosted_model_name} self-hosted against {be.api_model_name}"

    if point is None:
        return StepResult(
            step="volume",
            verdict="leans_proprietary",
            rationale=lambda: (
                f"{sentence()}; but with your token profile a {pair()} request costs "
                f"{fmt_money(be.self_hosted_marginal_cost_per_request)} at the margin "
                f"against {fmt_money(be.api_cost_per_request)}, so self-hosting never "
                "breaks even on cost, at any volume."
            ),
            lean=-1,
            numbers=numbers,
        )
    low_equivalent = point * policy.volume_low / policy.volume_high
    if requests_per_day >= point:
        lean = 1
    elif requests_per_day < low_equivalent:
        lean = -1
    else:
        lean = 0
    close = abs(requests_per_day - point) <= policy.close_call_margin * point

    def text() -> str:
        api_cost = comparison.api.monthly_cost if comparison.api else None
        hosted_cost = (
            comparison.self_hosted.monthly_cost if comparison.self_hosted else None
        )
        costs = ""
        if api_cost is not None and hosted_cost is not None:
            cheaper = "cheaper" if hosted_cost <= api_cost else "dearer"
            costs = (
                f" Here self-hosting is {cheaper}: {fmt_money(hosted_cost)} a month "
                f"against {fmt_money(api_cost)}."
            )
        gpu_text = (
            f"{fmt_count(gpu_only)} counting GPU cost only"
            if gpu_only is not None
            else "never on GPU cost alone"
        )
        tip = ""
        if close:
            side = "below" if lean > 0 else "above"
            tip = (
                f" This is a close call: within {policy.close_call_margin:.0%} of the "
                f"break-even; volume {side} {fmt_count(point)} a day would tip it."
            )
        return (
            f"{sentence()}; with your token profile the break-even for {pair()} is "
            f"{fmt_count(point)} a day fully loaded ({gpu_text}).{costs}{tip}"
        )

    return StepResult(
        step="volume",
        verdict=_VOLUME_VERDICT[lean],
        rationale=text,
        lean=lean,
        close_call=close,
        numbers=numbers,
    )


_VOLUME_VERDICT = {-1: "leans_proprietary", 0: "both_viable", 1: "leans_open"}


def most_demanding(workloads: Sequence[Workload]) -> str:
    return max((w.complexity for w in workloads), key=COMPLEXITIES.index)


def task_complexity(
    *,
    workloads: Sequence[Workload],
    capability_tier: str,
    context_tokens: int,
    fine_tuning_data: bool,
    open_model_available: bool,
    data_may_leave: bool,
    policy: Policy,
) -> StepResult:
    """Step 3: how hard the tasks are, and whether open models can do them."""
    args = (
        tuple(workloads),
        capability_tier,
        context_tokens,
        fine_tuning_data,
        open_model_available,
        data_may_leave,
    )
    return _memoised(
        policy, ("task_complexity", *args), lambda: _task_complexity(*args, policy)
    )


def _task_complexity(
    workloads: Sequence[Workload],
    capability_tier: str,
    context_tokens: int,
    fine_tuning_data: bool,
    open_model_available: bool,
    data_may_leave: bool,
    policy: Policy,
) -> StepResult:
    complexity = most_demanding(workloads)
    mix = ""
    if len(workloads) > 1:
        mix = (
            "Workloads: "
            + join_words(
                [
                    f"{w.share:g}% {w.task_type} ({TASK_COMPLEXITY[w.task_type]})"
                    for w in workloads
                ]
            )
            + ". "
        )
    tasks = join_words(sorted({w.task_type for w in workloads}))
    numbers = {
        "complexity": complexity,
        "capability_tier": capability_tier,
        "context_tokens": context_tokens,
        "very_large_context_tokens": policy.very_large_context_tokens,
        "fine_tuning_data": fine_tuning_data,
    }
    large_context = context_tokens > policy.very_large_context_tokens
    if capability_tier == "frontier" or large_context or not open_model_available:
        verdict, lean = "proprietary_strongly", -2
        if capability_tier == "frontier":
            why = (
                "needs frontier capability (the top ~5%), where proprietary models "
                "are still ahead"
            )
        elif large_context:
            why = (
                f"needs a context of {fmt_count(context_tokens)} tokens, beyond the "
                f"{fmt_count(policy.very_large_context_tokens)} open models handle well"
            )
        else:
            why = (
                f"needs {capability_tier} capability with {fmt_count(context_tokens)} "
                "tokens of context, and no open model in the catalogue meets that"
            )
        text = f"{mix}{tasks.capitalize()} {why}: proprietary strongly."
    elif complexity == "complex":
        verdict, lean = "proprietary_edge", -1
        text = (
            f"{mix}{tasks.capitalize()} is complex work (reasoning, planning or "
            "creative generation), where proprietary models have the edge."
        )
    elif complexity == "moderate":
        verdict = "open_competitive_with_fine_tuning"
        lean = 1 if fine_tuning_data else 0
        text = (
            f"{mix}{tasks.capitalize()} is moderate work, where open models are "
            "competitive once fine-tuned; "
            + (
                "task-specific training data exists, so this leans open."
                if fine_tuning_data
                else "there is no task-specific training data yet, so this is "
                "neutral (fine-tuning data would tip it towards open)."
            )
        )
    else:
        verdict, lean = "open_fully_competitive", 1
        text = (
            f"{mix}{tasks.capitalize()} is simple work, where small open models are "
            "fully competitive on quality."
        )
    warnings: tuple[str, ...] = ()
    if not data_may_leave and (lean < 0 or not open_model_available):
        warnings = (
            "Capability risk: the data must stay in-house, so an open model must do "
            f"{complexity} work at {capability_tier} level"
            + (" with very large context" if large_context else "")
            + "; evaluate candidates on your own test set before committing.",
        )
    return StepResult(
        step="task_complexity",
        verdict=verdict,
        rationale=text,
        lean=lean,
        numbers=numbers,
        warnings=warnings,
    )


def operational_readiness(*, mlops_readiness: str, data_may_leave: bool) -> StepResult:
    """Step 4: ML-ops capability decides how an open model can be hosted."""
    return _memoised(
        None,
        ("operational_readiness", mlops_readiness, data_may_leave),
        lambda: _operational_readiness(mlops_readiness, data_may_leave),
    )


def _operational_readiness(mlops_readiness: str, data_may_leave: bool) -> StepResult:
    numbers = {"mlops_readiness": mlops_readiness}
    warnings: tuple[str, ...] = ()
    if mlops_readiness == "none":
        verdict = "no_self_hosting"
        text = (
            "There is no ML-ops capability, so self-hosting is off the table: a "
            "proprietary API or a managed open-source service."
        )
        if not data_may_leave:
            text = (
                "There is no ML-ops capability, which would normally rule out "
                "self-hosting, but data governance requires it."
            )
            warnings = (
                "Prerequisite: self-hosting is required but there is no ML-ops "
                "capability. Build it (on-call, GPU serving, monitoring) or run the "
                "open model inside our own cloud tenancy with a managed serving "
                "stack before go-live.",
            )
    elif mlops_readiness == "limited":
        verdict = "managed_preferred"
        text = (
            "ML-ops capability is limited, so a managed open-source service is "
            "preferred to running GPUs ourselves."
        )
        if not data_may_leave:
            text += " Data governance requires self-hosting anyway."
            warnings = (
                "Self-hosting is required with limited ML-ops capability: budget "
                "platform support and an on-call rota before go-live.",
            )
    else:
        verdict = "self_hosting_viable"
        text = "ML-ops capability is established, so self-hosting is viable."
    return StepResult(
        step="operational_readiness",
        verdict=verdict,
        rationale=text,
        numbers=numbers,
        warnings=warnings,
    )


def strategic_timeline(*, horizon: str, policy: Policy) -> StepResult:
    """Step 5: a core capability leans open, an experiment leans proprietary."""
    return _memoised(
        policy,
        ("strategic_timeline", horizon),
        lambda: _strategic_timeline(horizon, policy),
    )


def _strategic_timeline(horizon: str, policy: Policy) -> StepResult:
    months = policy.horizon_months(horizon)
    numbers = {"horizon": horizon, "amortisation_months": months}
    if horizon == "core":
        return StepResult(
            step="strategic_timeline",
            verdict="leans_open",
            rationale=(
                "This is a core capability we will run for years, so vendor "
                "independence and control matter: leans open "
                f"(set-up cost spread over {months} months)."
            ),
            lean=1,
            numbers=numbers,
        )
    if horizon == "experiment":
        return StepResult(
            step="strategic_timeline",
            verdict="leans_proprietary",
            rationale=(
                "This is an experiment that may not prove out, so speed matters "
                "most: an API key takes hours, self-hosting weeks. Leans proprietary "
                f"API (set-up cost spread over {months} months)."
            ),
            lean=-1,
            numbers=numbers,
        )
    return StepResult(
        step="strategic_timeline",
        verdict="neutral",
        rationale=(
            "A production use-case that is not a core capability: the timeline "
            f"favours neither side (set-up cost spread over {months} months)."
        ),
        numbers=numbers,
    )
