"""Each of the five steps on its own: verdict, lean, numbers and wording."""

from dataclasses import replace
from typing import Any

from apps.framework.engine import (
    DEFAULT_POLICY,
    CostComparison,
    Inputs,
    StepResult,
    TokenProfile,
    Workload,
    data_governance,
    load_seed_catalogue,
    operational_readiness,
    priced_catalogue,
    strategic_timeline,
    task_complexity,
    volume,
)

CATALOGUE = load_seed_catalogue()
ASSUMPTIONS = DEFAULT_POLICY.assumptions(
    mlops_readiness="established", horizon="production"
)


def _inputs(**changes: Any) -> Inputs:
    data: dict[str, Any] = {
        "data_classification": "internal",
        "must_stay_in_infrastructure": False,
        "requests_per_day": 50_000,
        "avg_input_tokens": 1500,
        "avg_output_tokens": 500,
        "workloads": [{"task_type": "summarisation", "share": 100}],
        "capability_need": "advanced",
        "mlops_readiness": "established",
        "horizon": "production",
    }
    data.update(changes)
    return Inputs.from_dict(data)


def _comparison(requests: float, *keys: str, tier: str = "advanced") -> CostComparison:
    catalogue = CATALOGUE.only(*keys) if keys else CATALOGUE
    profile = TokenProfile(1500, 500, 3)
    return priced_catalogue(catalogue, profile, ASSUMPTIONS).compare(
        capability_tier=tier, context_needed=2000, requests_per_day=requests
    )


def _complexity(*tasks: str, **kw: Any) -> StepResult:
    share = 100 / len(tasks)
    options: dict[str, Any] = {
        "capability_tier": "advanced",
        "context_tokens": 2000,
        "fine_tuning_data": False,
        "open_model_available": True,
        "data_may_leave": True,
        "policy": DEFAULT_POLICY,
    }
    options.update(kw)
    return task_complexity(workloads=[Workload(t, share) for t in tasks], **options)


def test_data_that_may_not_leave_decides_open_source_self_hosted() -> None:
    """Restricted data, a protected category or the requester's answer decide it."""
    for changes in (
        {"data_classification": "restricted"},
        {"special_categories": ["indigenous"]},
        {"special_categories": ["health", "personal"]},
        {"must_stay_in_infrastructure": True},
    ):
        result = data_governance(_inputs(**changes), DEFAULT_POLICY)
        assert result.decided
        assert result.verdict == "open_source_self_hosted"
        assert "may not leave" in result.rationale


def test_it_names_every_reason_data_must_stay() -> None:
    """The rationale lists classification, categories and the requester's answer."""
    inputs = _inputs(
        data_classification="restricted",
        special_categories=["government", "health"],
        must_stay_in_infrastructure=True,
    )
    text = data_governance(inputs, DEFAULT_POLICY).rationale
    assert "restricted data, government and health data" in text
    assert "requester's answer" in text


def test_it_lets_data_leave_when_policy_and_requester_allow() -> None:
    """Confidential personal data may leave by default, with a terms reminder."""
    inputs = _inputs(
        data_classification="confidential", special_categories=["personal"]
    )
    result = data_governance(inputs, DEFAULT_POLICY)
    assert not result.decided
    assert result.verdict == "data_may_leave"
    assert "personal data" in result.rationale


def test_it_follows_a_policy_that_lets_health_data_leave() -> None:
    """Platform can change which categories may leave."""
    policy = replace(DEFAULT_POLICY, categories_that_may_not_leave=("indigenous",))
    result = data_governance(_inputs(special_categories=["health"]), policy)
    assert not result.decided


def test_volume_above_the_break_even_leans_open_and_names_both_figures() -> None:
    """120,000 a day is above 50,000 and above the 50,290 break-even for GPT-4o."""
    result = volume(
        requests_per_day=120_000,
        comparison=_comparison(120_000, "gpt-4o", "llama-3.1-70b"),
        policy=DEFAULT_POLICY,
    )
    assert result.verdict == "leans_open"
    assert result.lean == 1
    assert result.rationale.startswith(
        "120,000 requests a day is above the 50,000 a day where self-hosting "
        "usually wins; with your token profile the break-even for Llama 3.1 70B "
        "Instruct self-hosted against GPT-4o is 50,290 a day fully loaded "
        "(36,202 counting GPU cost only)."
    )
    assert result.numbers["break_even_fully_loaded"] == 50_290
    assert result.numbers["break_even_gpu_only"] == 36_202


def test_the_break_even_replaces_the_fixed_thresholds() -> None:
    """11,000 a day is past the fixed 10,000 but under a fifth of the break-even."""
    result = volume(
        requests_per_day=11_000,
        comparison=_comparison(11_000, "gpt-4.1", "llama-3.1-70b"),
        policy=DEFAULT_POLICY,
    )
    assert result.lean == -1
    assert "between 10,000 and 50,000" in result.rationale
    assert "62,863" in result.rationale


def test_volume_near_the_break_even_is_a_close_call_with_a_tip() -> None:
    """Within 15% of the break-even the step says so and what would tip it."""
    result = volume(
        requests_per_day=47_000,
        comparison=_comparison(47_000, "gpt-4o", "llama-3.1-70b"),
        policy=DEFAULT_POLICY,
    )
    assert result.close_call
    assert result.lean == 0
    assert "close call" in result.rationale
    assert "above 50,290 a day would tip it" in result.rationale


def test_volume_says_never_when_self_hosting_cannot_break_even() -> None:
    """Against a cheap API self-hosting never pays, whatever the volume."""
    result = volume(
        requests_per_day=5_000_000,
        comparison=_comparison(
            5_000_000, "gemini/gemini-2.5-flash", "llama-3.1-70b", tier="standard"
        ),
        policy=DEFAULT_POLICY,
    )
    assert result.lean == -1
    assert "never breaks even" in result.rationale


def test_volume_falls_back_to_fixed_thresholds_without_a_token_profile() -> None:
    """With unknown tokens the 10,000 / 50,000 bands apply, and it says why."""
    comparison = priced_catalogue(CATALOGUE, None, ASSUMPTIONS).compare(
        capability_tier="advanced", context_needed=0, requests_per_day=8_000
    )
    low = volume(requests_per_day=8_000, comparison=comparison, policy=DEFAULT_POLICY)
    mid = volume(requests_per_day=30_000, comparison=comparison, policy=DEFAULT_POLICY)
    high = volume(requests_per_day=60_000, comparison=comparison, policy=DEFAULT_POLICY)
    assert (low.lean, mid.lean, high.lean) == (-1, 0, 1)
    assert mid.verdict == "both_viable"
    assert "Token profile unknown" in low.rationale


def test_simple_tasks_are_fully_competitive_for_open_models() -> None:
    """Classification, extraction and formatting lean open."""
    result = _complexity("classification", "extraction")
    assert (result.verdict, result.lean) == ("open_fully_competitive", 1)


def test_moderate_tasks_lean_open_only_with_fine_tuning_data() -> None:
    """Summarisation is neutral without training data and leans open with it."""
    without = _complexity("summarisation")
    with_data = _complexity("summarisation", fine_tuning_data=True)
    assert without.verdict == with_data.verdict == "open_competitive_with_fine_tuning"
    assert (without.lean, with_data.lean) == (0, 1)
    assert "fine-tuning data would tip it" in without.rationale


def test_complex_tasks_give_proprietary_the_edge() -> None:
    """Reasoning, planning and creative generation lean proprietary."""
    result = _complexity("planning")
    assert (result.verdict, result.lean) == ("proprietary_edge", -1)


def test_frontier_need_or_very_large_context_is_proprietary_strongly() -> None:
    """Frontier capability or more than 128k tokens of context weigh -2."""
    frontier = _complexity("classification", capability_tier="frontier")
    context = _complexity("summarisation", context_tokens=500_000)
    assert (frontier.verdict, frontier.lean) == ("proprietary_strongly", -2)
    assert (context.verdict, context.lean) == ("proprietary_strongly", -2)
    assert "500,000 tokens" in context.rationale


def test_the_most_demanding_workload_sets_the_use_case_complexity() -> None:
    """A mix lists each workload and takes the hardest for its verdict."""
    result = _complexity("classification", "reasoning")
    assert result.verdict == "proprietary_edge"
    assert "50% classification (simple) and 50% reasoning (complex)" in result.rationale


def test_complex_work_with_data_that_must_stay_warns_of_capability_risk() -> None:
    """Forced self-hosting of complex or frontier work carries a capability risk."""
    result = _complexity("reasoning", data_may_leave=False)
    assert result.warnings and result.warnings[0].startswith("Capability risk")
    assert not _complexity("classification", data_may_leave=False).warnings


def test_no_mlops_rules_out_self_hosting() -> None:
    """Without ML-ops: proprietary API or managed open-source, no warning."""
    result = operational_readiness(mlops_readiness="none", data_may_leave=True)
    assert result.verdict == "no_self_hosting"
    assert not result.warnings


def test_no_mlops_with_data_that_must_stay_is_a_prerequisite_warning() -> None:
    """Forced self-hosting without ML-ops says what must be built first."""
    result = operational_readiness(mlops_readiness="none", data_may_leave=False)
    assert result.warnings[0].startswith("Prerequisite")


def test_limited_mlops_prefers_managed_and_established_allows_self_hosting() -> None:
    """Limited prefers managed; established makes self-hosting viable."""
    limited = operational_readiness(mlops_readiness="limited", data_may_leave=True)
    established = operational_readiness(
        mlops_readiness="established", data_may_leave=True
    )
    assert limited.verdict == "managed_preferred"
    assert established.verdict == "self_hosting_viable"


def test_the_timeline_leans_open_for_core_and_proprietary_for_experiments() -> None:
    """Core +1 (vendor independence), experiment -1 (speed), production 0."""
    leans = {
        horizon: strategic_timeline(horizon=horizon, policy=DEFAULT_POLICY)
        for horizon in ("core", "experiment", "production")
    }
    assert {h: r.lean for h, r in leans.items()} == {
        "core": 1,
        "experiment": -1,
        "production": 0,
    }
    assert "vendor independence" in leans["core"].rationale
    assert leans["core"].numbers["amortisation_months"] == 36


def test_every_step_result_serialises_with_step_verdict_and_rationale() -> None:
    """as_dict carries the keys the API promises."""
    result = strategic_timeline(horizon="core", policy=DEFAULT_POLICY).as_dict()
    assert {"step", "verdict", "rationale"} <= set(result)
