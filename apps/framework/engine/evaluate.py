"""From inputs to a recommendation: run the steps per workload and combine them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import steps
from .catalogue import Catalogue, PriceSnapshot, load_catalogue
from .costs import (
    API,
    MANAGED,
    SELF_HOSTED,
    CostComparison,
    CostCurve,
    CostOption,
    PricedCatalogue,
    TokenProfile,
    cost_curves,
)
from .policy import DEFAULT_POLICY, OpsAssumptions, Policy
from .steps import fmt_count, fmt_money
from .types import (
    OPEN_OUTCOMES,
    TIER_RANK,
    Inputs,
    StepResult,
    Workload,
)

SEED_CATALOGUE_PATH = (
    Path(__file__).resolve().parents[2] / "catalogue" / "seed_catalogue.json"
)
# The tier a workload needs when it is not the use-case's most demanding one.
_NATURAL_TIER = {"simple": "standard", "moderate": "advanced", "complex": "frontier"}
_HOSTING_PHRASE = {
    SELF_HOSTED: "self-hosted",
    MANAGED: "managed open-source",
    API: "proprietary API",
}
_OUTCOME_TITLE = {
    SELF_HOSTED: "Open-source self-hosted",
    MANAGED: "Managed open-source",
    API: "Proprietary API",
    "hybrid": "Hybrid",
}


def _signed(value: int) -> str:
    return f"{value:+d}" if value else "0"


@lru_cache(maxsize=1)
def load_seed_catalogue() -> Catalogue:
    """The catalogue in apps/catalogue/seed_catalogue.json (read once)."""
    return load_catalogue(json.loads(SEED_CATALOGUE_PATH.read_text(encoding="utf-8")))


@dataclass(frozen=True, slots=True)
class WorkloadAssessment:
    """One workload's own share of the volume, its steps and its routing rule."""

    task_type: str
    share: float
    complexity: str
    capability_tier: str
    requests_per_day: float
    outcome: str
    model_key: str | None
    model_name: str | None
    monthly_cost: float | None
    _routing_rule: str | Callable[[], str]
    # The words, or a function writing them when first read (see StepResult).
    _rationale: str | Callable[[], str]
    score: int
    close_call: bool
    tips: tuple[str, ...]
    steps: tuple[StepResult, ...]
    costs: CostComparison

    @property
    def routing_rule(self) -> str:
        text = self._routing_rule
        if not isinstance(text, str):
            text = text()
            object.__setattr__(self, "_routing_rule", text)
        return text

    @property
    def rationale(self) -> str:
        text = self._rationale
        if not isinstance(text, str):
            text = text()
            object.__setattr__(self, "_rationale", text)
        return text

    def as_dict(self) -> dict[str, Any]:
        be = self.costs.break_even
        point = be.fully_loaded.requests_per_day if be else None
        return {
            "task_type": self.task_type,
            "share": self.share,
            "complexity": self.complexity,
            "capability_tier": self.capability_tier,
            "requests_per_day": round(self.requests_per_day, 1),
            "outcome": self.outcome,
            "model": self.model_key,
            "model_name": self.model_name,
            "monthly_cost": (
                None if self.monthly_cost is None else round(self.monthly_cost, 2)
            ),
            "routing_rule": self.routing_rule,
            "rationale": self.rationale,
            "score": self.score,
            "close_call": self.close_call,
            "tips": list(self.tips),
            "break_even_requests_per_day": None if point is None else round(point),
            "steps": [s.as_dict() for s in self.steps],
            "costs": self.costs.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class Assessment:
    """The framework's answer for one set of inputs, policy and catalogue."""

    inputs: Inputs
    outcome: str
    _summary: str | Callable[[], str]
    steps: tuple[StepResult, ...]
    costs: CostComparison
    workloads: tuple[WorkloadAssessment, ...]
    warnings: tuple[str, ...]
    close_call: bool
    tips: tuple[str, ...]
    recommended_monthly_cost: float | None
    policy_version: str
    price_snapshot: PriceSnapshot
    assumptions: OpsAssumptions

    @property
    def summary(self) -> str:
        text = self._summary
        if not isinstance(text, str):
            text = text()
            object.__setattr__(self, "_summary", text)
        return text

    def cost_curves(
        self, volumes: Iterable[float] | None = None
    ) -> tuple[CostCurve, ...]:
        """Monthly cost per option over ``volumes`` (default: up to twice the
        larger of the volume and the break-even), for the use-case as a whole."""
        return cost_curves(self.costs, volumes, assumptions=self.assumptions)

    @property
    def break_even_requests_per_day(self) -> float | None:
        be = self.costs.break_even
        return be.fully_loaded.requests_per_day if be else None

    def as_dict(self) -> dict[str, Any]:
        """The DESIGN §7 shape, plus summary, close call, tips and provenance."""
        point = self.break_even_requests_per_day
        costs = self.costs.as_dict()
        costs["recommended_monthly_cost"] = (
            None
            if self.recommended_monthly_cost is None
            else round(self.recommended_monthly_cost, 2)
        )
        return {
            "outcome": self.outcome,
            "summary": self.summary,
            "close_call": self.close_call,
            "steps": [s.as_dict() for s in self.steps],
            "costs": costs,
            "break_even_requests_per_day": None if point is None else round(point),
            "break_even": costs["break_even"],
            "warnings": list(self.warnings),
            "workloads": [w.as_dict() for w in self.workloads],
            "tips": list(self.tips),
            "policy_version": self.policy_version,
            "price_snapshot": self.price_snapshot.as_dict(),
            "assumptions": asdict(self.assumptions),
        }


_ASSUMPTIONS: dict[tuple[int, str, str], tuple[Policy, OpsAssumptions]] = {}


def _assumptions(policy: Policy, readiness: str, horizon: str) -> OpsAssumptions:
    """Policy.assumptions, reused per policy object: nine combinations at most,
    and the same object keeps the priced-catalogue cache key cheap to match."""
    key = (id(policy), readiness, horizon)
    hit = _ASSUMPTIONS.get(key)
    if hit is not None and hit[0] is policy:
        return hit[1]
    resolved = policy.assumptions(mlops_readiness=readiness, horizon=horizon)
    if len(_ASSUMPTIONS) >= 256:
        _ASSUMPTIONS.clear()
    _ASSUMPTIONS[key] = (policy, resolved)
    return resolved


_PRICED_CACHE_SIZE = 512


def _priced(
    catalogue: Catalogue, inputs: Inputs, policy: Policy, assumptions: OpsAssumptions
) -> PricedCatalogue:
    """The catalogue priced for this token profile, looked up on plain numbers.

    Hashing two dataclasses per call cost more than the rest of the look-up; the
    assumptions object comes from ``_assumptions`` and is kept alive by the
    priced catalogue it keys, so its id stays unique while the entry exists.
    """
    known = inputs.token_profile_known
    peak = inputs.peak_factor or policy.peak_factor_default
    key = (
        "priced-by-numbers",
        id(assumptions),
        inputs.avg_input_tokens if known else None,
        inputs.avg_output_tokens if known else None,
        peak if known else None,
        inputs.cached_input_share if known else None,
        inputs.batch_share if known else None,
    )
    cache = catalogue.derived
    priced = cache.get(key)
    if priced is None or priced.assumptions is not assumptions:
        profile = (
            TokenProfile(
                avg_input_tokens=float(inputs.avg_input_tokens or 0),
                avg_output_tokens=float(inputs.avg_output_tokens or 0),
                peak_factor=peak,
                cached_input_share=inputs.cached_input_share,
                batch_share=inputs.batch_share,
            )
            if known
            else None
        )
        priced = PricedCatalogue(catalogue, profile, assumptions)
        if len(cache) >= _PRICED_CACHE_SIZE:
            cache.clear()  # rare: more token profiles than a portfolio holds
        cache[key] = priced
    return priced


def priced_for(inputs: Inputs, policy: Policy, catalogue: Catalogue) -> PricedCatalogue:
    """The priced catalogue evaluate() uses for these inputs (for the planner)."""
    assumptions = _assumptions(policy, inputs.mlops_readiness, inputs.horizon)
    return _priced(catalogue, inputs, policy, assumptions)


def workload_tier(
    workload: Workload, workloads: tuple[Workload, ...], need: str
) -> str:
    """``capability_need`` describes the most demanding workload; simpler ones are
    matched to the tier their complexity needs, never above ``need``."""
    return _workload_tier(workload, steps.most_demanding(workloads), need)


def _workload_tier(workload: Workload, hardest: str, need: str) -> str:
    if workload.complexity == hardest:
        return need
    natural = _NATURAL_TIER[workload.complexity]
    return natural if TIER_RANK[natural] < TIER_RANK[need] else need


def evaluate(
    inputs: Inputs,
    policy: Policy = DEFAULT_POLICY,
    catalogue: Catalogue | None = None,
) -> Assessment:
    """Run the framework: deterministic, no I/O beyond the cached seed catalogue."""
    catalogue = catalogue if catalogue is not None else load_seed_catalogue()
    governance = steps.data_governance(inputs, policy)
    may_leave = not governance.decided
    assumptions = _assumptions(policy, inputs.mlops_readiness, inputs.horizon)
    priced = _priced(catalogue, inputs, policy, assumptions)
    readiness = steps.operational_readiness(
        mlops_readiness=inputs.mlops_readiness, data_may_leave=may_leave
    )
    timeline = steps.strategic_timeline(horizon=inputs.horizon, policy=policy)
    context = inputs.context_needed

    def assess_steps(
        workloads: tuple[Workload, ...], tier: str, requests: float
    ) -> tuple[CostComparison, StepResult, StepResult]:
        comparison = priced.compare(
            capability_tier=tier,
            context_needed=context,
            requests_per_day=requests,
            self_hosting_forced=not may_leave,
        )
        vol = steps.volume(
            requests_per_day=requests, comparison=comparison, policy=policy
        )
        complexity = steps.task_complexity(
            workloads=workloads,
            capability_tier=tier,
            context_tokens=context,
            fine_tuning_data=inputs.fine_tuning_data,
            open_model_available=(
                comparison.self_hosted is not None or comparison.managed is not None
            )
            and not comparison.capability_shortfall,
            data_may_leave=may_leave,
            policy=policy,
        )
        return comparison, vol, complexity

    whole = assess_steps(
        inputs.workloads, inputs.capability_need, inputs.requests_per_day
    )
    assessed = []
    hardest = steps.most_demanding(inputs.workloads)
    for workload in inputs.workloads:
        tier = _workload_tier(workload, hardest, inputs.capability_need)
        requests = inputs.requests_per_day * workload.share / 100
        own = (
            whole
            if len(inputs.workloads) == 1
            else assess_steps((workload,), tier, requests)
        )
        assessed.append(
            _assess_workload(
                inputs=inputs,
                policy=policy,
                workload=workload,
                tier=tier,
                requests=requests,
                comparison=own[0],
                step_results=(governance, own[1], own[2], readiness, timeline),
            )
        )
    workloads = tuple(assessed)
    outcome = _combine(workloads)
    top_steps = (governance, whole[1], whole[2], readiness, timeline)
    warnings = _unique(
        [w for s in top_steps for w in s.warnings]
        + [w for wa in workloads for s in wa.steps for w in s.warnings]
        + [
            w
            for wa in workloads
            for w in _deprecation_warnings(
                wa, catalogue, policy.horizon_months(inputs.horizon)
            )
        ]
    )
    costs = [w.monthly_cost for w in workloads]
    recommended = None if any(c is None for c in costs) else sum(c or 0 for c in costs)
    tips = _unique(
        [
            tip if len(workloads) == 1 else f"{wa.task_type}: {tip}"
            for wa in workloads
            if wa.close_call
            for tip in wa.tips
        ]
    )
    return Assessment(
        inputs=inputs,
        outcome=outcome,
        _summary=lambda: _summary(outcome, workloads, recommended),
        steps=top_steps,
        costs=whole[0],
        workloads=workloads,
        warnings=warnings,
        close_call=any(w.close_call for w in workloads),
        tips=tips,
        recommended_monthly_cost=recommended,
        policy_version=policy.version,
        price_snapshot=catalogue.snapshot,
        assumptions=assumptions,
    )


def _open_kind(
    inputs: Inputs, vol: StepResult, comparison: CostComparison
) -> str | None:
    """How an open model would be hosted, given readiness (step 4)."""
    has_managed = comparison.managed is not None
    has_hosted = comparison.self_hosted is not None
    if inputs.mlops_readiness == "none":
        return MANAGED if has_managed else None
    if inputs.mlops_readiness == "limited":
        if has_managed:
            return MANAGED
        return SELF_HOSTED if has_hosted else None
    if inputs.fine_tuning_data or inputs.horizon == "core":
        # Non-cost reasons: own fine-tuned weights, control for a core capability.
        wants_self = True
    elif comparison.self_hosted_vs_managed is not None:
        # Managed is the default open option until self-hosting undercuts it.
        point = comparison.self_hosted_vs_managed.requests_per_day
        wants_self = point is not None and comparison.requests_per_day >= point
    else:
        wants_self = vol.lean > 0
    if wants_self and has_hosted:
        return SELF_HOSTED
    if has_managed:
        return MANAGED
    return SELF_HOSTED if has_hosted else None


def _forced_kind(inputs: Inputs, comparison: CostComparison) -> str:
    """Data that must stay: self-hosted, or a managed offer inside our own
    infrastructure (the only managed offers compare() gives such data) where
    ML-ops is not established or the offer is cheaper."""
    managed, hosted = comparison.managed, comparison.self_hosted
    if managed is None:
        return SELF_HOSTED
    if hosted is None or inputs.mlops_readiness != "established":
        return MANAGED
    if (
        managed.monthly_cost is not None
        and hosted.monthly_cost is not None
        and managed.monthly_cost < hosted.monthly_cost
    ):
        return MANAGED
    return SELF_HOSTED


def _open_is_cheaper(kind: str, vol: StepResult, comparison: CostComparison) -> bool:
    """Tie-break on cost, in a form that never flips back as volume grows."""
    if kind == SELF_HOSTED:
        return vol.lean > 0
    managed, api = comparison.managed, comparison.api
    return (
        managed is not None
        and api is not None
        and managed.cost_per_request is not None
        and api.cost_per_request is not None
        and managed.cost_per_request < api.cost_per_request
    )


def _assess_workload(
    *,
    inputs: Inputs,
    policy: Policy,
    workload: Workload,
    tier: str,
    requests: float,
    comparison: CostComparison,
    step_results: tuple[StepResult, ...],
) -> WorkloadAssessment:
    governance, vol, complexity, _readiness, timeline = step_results
    score = vol.lean + complexity.lean + timeline.lean
    forced = governance.decided
    open_kind = (
        _forced_kind(inputs, comparison)
        if forced
        else _open_kind(inputs, vol, comparison)
    )
    why: list[str] = []
    if forced:
        outcome = open_kind or SELF_HOSTED
        why.append("data governance requires it")
        if outcome == MANAGED and comparison.managed is not None:
            why.append(
                f"{comparison.managed.hosted_by} runs it in a region and tenancy "
                "policy counts as inside our infrastructure"
            )
    elif open_kind is None:
        outcome = API
        why.append(
            "no open option fits: "
            + (
                "without ML-ops, open models need a managed service, and none in the "
                "catalogue meets the need"
                if inputs.mlops_readiness == "none"
                else "no open model in the catalogue meets the capability and context"
            )
        )
    elif comparison.api is None:
        outcome = open_kind
        why.append(
            "no proprietary API in the catalogue meets the capability and context"
        )
    elif score > 0:
        outcome = open_kind
    elif score < 0:
        outcome = API
    else:
        outcome = open_kind if _open_is_cheaper(open_kind, vol, comparison) else API
        why.append("the steps balance out, so cost decides")
    close = not forced and (score == 0 or vol.close_call)
    chosen = comparison.option(outcome)
    # Tips are only shown for close calls, so only close calls pay for them.
    tips = (
        ()
        if forced or not close
        else _tips(
            inputs=inputs,
            workload=workload,
            outcome=outcome,
            score=score,
            vol=vol,
            comparison=comparison,
            policy=policy,
        )
    )

    def rationale() -> str:
        return _workload_rationale(
            outcome=outcome,
            score=score,
            why=why,
            step_results=step_results,
            chosen=chosen,
            comparison=comparison,
            close=close,
            tips=tips,
        )

    return WorkloadAssessment(
        task_type=workload.task_type,
        share=workload.share,
        complexity=workload.complexity,
        capability_tier=tier,
        requests_per_day=requests,
        outcome=outcome,
        model_key=chosen.model_key if chosen else None,
        model_name=chosen.model_name if chosen else None,
        monthly_cost=chosen.monthly_cost if chosen else None,
        _routing_rule=lambda: _routing_rule(workload, outcome, chosen),
        _rationale=rationale,
        score=score,
        close_call=close,
        tips=tips,
        steps=step_results,
        costs=comparison,
    )


def _routing_rule(workload: Workload, outcome: str, chosen: CostOption | None) -> str:
    head = f"{workload.share:g}% {workload.task_type}"
    if chosen is None:
        return f"{head} → an open model, {_HOSTING_PHRASE[outcome]} (none in catalogue)"
    if outcome == API:
        return f"{head} → {chosen.model_name} ({chosen.hosted_by}), proprietary API"
    if outcome == MANAGED:
        return f"{head} → {chosen.model_name}, managed on {chosen.hosted_by}"
    return f"{head} → {chosen.model_name}, self-hosted"


def _workload_rationale(
    *,
    outcome: str,
    score: int,
    why: list[str],
    step_results: tuple[StepResult, ...],
    chosen: CostOption | None,
    comparison: CostComparison,
    close: bool,
    tips: tuple[str, ...],
) -> str:
    governance, vol, complexity, readiness, timeline = step_results
    parts = [_OUTCOME_TITLE[outcome]]
    if not governance.decided:
        parts.append(
            f" (leans: volume {_signed(vol.lean)}, complexity "
            f"{_signed(complexity.lean)}, timeline {_signed(timeline.lean)}; total "
            f"{_signed(score)}; ML-ops: {readiness.verdict.replace('_', ' ')})"
        )
    if why:
        parts.append(": " + "; ".join(why))
    text = "".join(parts) + "."
    api = comparison.api
    if outcome in OPEN_OUTCOMES and chosen is not None:
        reasons = []
        if governance.decided:
            reasons.append("data sovereignty")
        if complexity.lean > 0:
            reasons.append(
                "quality (open models are fully competitive on simple tasks)"
                if complexity.verdict == "open_fully_competitive"
                else "quality from fine-tuning on our own data"
            )
        if timeline.lean > 0:
            reasons.append("control and vendor independence")
        if (
            chosen.monthly_cost is not None
            and api is not None
            and api.monthly_cost is not None
        ):
            if chosen.monthly_cost > api.monthly_cost:
                text += (
                    f" Open wins here on {steps.join_words(reasons or ['control'])}, "
                    f"not on cost: {fmt_money(chosen.monthly_cost)} a month against "
                    f"{fmt_money(api.monthly_cost)} for {api.model_name}."
                )
            else:
                text += (
                    f" It is also cheaper: {fmt_money(chosen.monthly_cost)} a month "
                    f"against {fmt_money(api.monthly_cost)} for {api.model_name}."
                )
        elif reasons:
            text += f" Open wins here on {steps.join_words(reasons)}."
        text += _hosting_sentence(outcome, chosen, comparison, governance.decided)
    elif outcome == API and api is not None and api.monthly_cost is not None:
        cheaper = [
            o
            for o in (comparison.managed, comparison.self_hosted)
            if o is not None
            and o.monthly_cost is not None
            and o.monthly_cost < api.monthly_cost
        ]
        text += f" {api.model_name} costs {fmt_money(api.monthly_cost)} a month"
        if cheaper:
            best = min(cheaper, key=lambda o: o.monthly_cost or 0)
            text += (
                f"; {best.model_name} ({_HOSTING_PHRASE[best.option]}) would cost "
                f"{fmt_money(best.monthly_cost or 0)}, but the other steps outweigh "
                "the saving"
            )
        text += "."
    if close:
        text += " This is a close call"
        text += (": " + "; ".join(tips) + ".") if tips else "."
    return text


def _hosting_sentence(
    outcome: str, chosen: CostOption, comparison: CostComparison, forced: bool
) -> str:
    """Self-hosted against managed open-source: which is cheaper, and why chosen."""
    other = comparison.managed if outcome == SELF_HOSTED else comparison.self_hosted
    if forced or other is None or other.monthly_cost is None:
        return ""
    if chosen.monthly_cost is None:
        return ""
    name = f"{other.model_name} " + (
        f"managed on {other.hosted_by}" if outcome == SELF_HOSTED else "self-hosted"
    )
    if other.monthly_cost >= chosen.monthly_cost:
        return f" It also undercuts {name} ({fmt_money(other.monthly_cost)} a month)."
    if outcome == SELF_HOSTED:
        return (
            f" {name} would cost {fmt_money(other.monthly_cost)} a "
            "month; self-hosting is chosen for control over our own (fine-tuned) "
            "weights."
        )
    return f" {name} would cost {fmt_money(other.monthly_cost)} a month."


def _tips(
    *,
    inputs: Inputs,
    workload: Workload,
    outcome: str,
    score: int,
    vol: StepResult,
    comparison: CostComparison,
    policy: Policy,
) -> tuple[str, ...]:
    """Single changes that would move this workload to the other side."""
    to_open = outcome == API
    be = comparison.break_even
    point = be.fully_loaded.requests_per_day if be else None
    share = workload.share / 100
    changes: list[tuple[int, str]] = []
    if to_open and vol.lean < 1:
        if point is not None:
            changes.append(
                (
                    1 - vol.lean,
                    f"volume above {fmt_count(point / share)} requests a day for the "
                    "use-case (the break-even) would tip it towards open",
                )
            )
        elif be is None:
            changes.append(
                (
                    1 - vol.lean,
                    f"volume above {fmt_count(policy.volume_high / share)} requests a "
                    "day would tip it towards open",
                )
            )
    if not to_open and vol.lean > -1:
        low = (
            point * policy.volume_low / policy.volume_high
            if point is not None
            else policy.volume_low
        )
        changes.append(
            (
                -1 - vol.lean,
                f"volume below {fmt_count(low / share)} requests a day would tip it "
                "towards a proprietary API",
            )
        )
    if to_open and inputs.horizon != "core":
        changes.append(
            (
                1 if inputs.horizon == "production" else 2,
                "treating it as a core capability would tip it towards open",
            )
        )
    if not to_open and inputs.horizon != "experiment":
        changes.append(
            (
                -1 if inputs.horizon == "production" else -2,
                "an experiment horizon would tip it towards a proprietary API",
            )
        )
    if to_open and workload.complexity == "moderate" and not inputs.fine_tuning_data:
        changes.append((1, "task-specific fine-tuning data would tip it towards open"))
    return tuple(
        text
        for delta, text in changes
        if (score + delta >= 0 if to_open else score + delta <= 0)
    )


def _combine(workloads: tuple[WorkloadAssessment, ...]) -> str:
    outcomes = {w.outcome for w in workloads}
    if len(outcomes) == 1:
        return next(iter(outcomes))
    if API in outcomes:
        return "hybrid"
    # All open, hosted differently: name the hosting that carries most traffic.
    shares = {
        kind: sum(w.share for w in workloads if w.outcome == kind)
        for kind in OPEN_OUTCOMES
    }
    return max(OPEN_OUTCOMES, key=lambda kind: (shares[kind], kind == SELF_HOSTED))


def _summary(
    outcome: str, workloads: tuple[WorkloadAssessment, ...], cost: float | None
) -> str:
    rules = "; ".join(w.routing_rule for w in workloads)
    money = f" Estimated {fmt_money(cost)} a month." if cost is not None else ""
    if outcome == "hybrid":
        return f"Hybrid, routing each workload on its own: {rules}.{money}"
    return f"{_OUTCOME_TITLE[outcome]}: {rules}.{money}"


def _deprecation_warnings(
    workload: WorkloadAssessment, catalogue: Catalogue, months: int
) -> list[str]:
    if workload.outcome == SELF_HOSTED or workload.model_key is None:
        return []
    # The same few models and horizons recur: decide each pair once per catalogue.
    key = ("deprecation", workload.model_key, months)
    found = catalogue.derived.get(key)
    if found is None:
        found = catalogue.derived[key] = _deprecation_warning(
            catalogue.model(workload.model_key), catalogue, months
        )
    return found


def _deprecation_warning(model: Any, catalogue: Catalogue, months: int) -> list[str]:
    if model.deprecation_date is None:
        return []
    end = _add_months(dt.date.fromisoformat(catalogue.snapshot.date), months)
    if dt.date.fromisoformat(model.deprecation_date) > end:
        return []
    return [
        f"{model.name} is listed for deprecation on {model.deprecation_date}, inside "
        f"the {months}-month horizon: plan a migration."
    ]


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    return dt.date(day.year + month // 12, month % 12 + 1, min(day.day, 28))


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))
