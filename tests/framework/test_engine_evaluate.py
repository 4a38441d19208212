"""evaluate(): outcomes, routing, the seed's own examples and the §7 JSON shape."""

import json
from dataclasses import replace
from typing import Any

import pytest

from apps.framework.engine import (
    DEFAULT_POLICY,
    OUTCOMES,
    STEPS,
    Assessment,
    Catalogue,
    Inputs,
    evaluate,
    load_seed_catalogue,
)

CATALOGUE = load_seed_catalogue()
# The seed's worked-example pair, plus its managed twin on Bedrock.
GPT4O_VS_LLAMA70B = CATALOGUE.only("gpt-4o", "llama-3.1-70b")
# The same pair with no managed offer for the open model.
GPT4O_VS_SELF_HOSTED_ONLY = replace(
    GPT4O_VS_LLAMA70B,
    models=(
        CATALOGUE.model("gpt-4o"),
        replace(CATALOGUE.model("llama-3.1-70b"), hosting=("self_hosted",)),
    ),
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
        "fine_tuning_data": False,
    }
    data.update(changes)
    return Inputs.from_dict(data)


def _evaluate(catalogue: Catalogue = CATALOGUE, **changes: Any) -> Assessment:
    return evaluate(_inputs(**changes), DEFAULT_POLICY, catalogue)


def test_it_returns_the_design_section_7_shape() -> None:
    """as_dict has outcome, five named steps, costs, break-even, warnings, workloads."""
    result = _evaluate().as_dict()
    assert {
        "outcome",
        "steps",
        "costs",
        "break_even_requests_per_day",
        "warnings",
        "workloads",
    } <= set(result)
    assert result["outcome"] in OUTCOMES
    assert [s["step"] for s in result["steps"]] == list(STEPS)
    assert all({"step", "verdict", "rationale"} <= set(s) for s in result["steps"])
    assert result["policy_version"] == DEFAULT_POLICY.version
    assert result["price_snapshot"]["date"] == "2026-11-25"
    assert json.loads(json.dumps(result)) == result


def test_it_is_deterministic() -> None:
    """The same inputs, policy and catalogue give the same answer."""
    first = evaluate(_inputs(), DEFAULT_POLICY, CATALOGUE).as_dict()
    second = evaluate(_inputs(), DEFAULT_POLICY, load_seed_catalogue()).as_dict()
    assert first == second


def test_it_reproduces_the_seeds_break_even_in_the_assessment() -> None:
    """Against GPT-4o the assessment's break-even is about 50,300 a day."""
    result = _evaluate(GPT4O_VS_LLAMA70B)
    assert result.break_even_requests_per_day == pytest.approx(50_296, rel=5e-4)
    assert result.as_dict()["break_even"]["gpu_only"] == pytest.approx(36_206, 5e-4)


def test_moderate_work_above_the_break_even_is_self_hosted() -> None:
    """The seed: above ~50,000 a day on moderate tasks, self-hosting is cheaper."""
    result = _evaluate(GPT4O_VS_SELF_HOSTED_ONLY, requests_per_day=60_000)
    assert result.outcome == "open_source_self_hosted"
    assert "It is also cheaper" in result.workloads[0].rationale


def test_a_cheaper_managed_open_model_is_preferred_to_self_hosting_on_cost() -> None:
    """Above the API break-even, Bedrock's Llama 70B still undercuts running GPUs."""
    result = _evaluate(GPT4O_VS_LLAMA70B, requests_per_day=60_000)
    assert result.outcome == "open_source_managed"
    assert "It also undercuts Llama 3.1 70B Instruct self-hosted ($13,386" in (
        result.workloads[0].rationale
    )


def test_a_core_capability_self_hosts_even_when_managed_is_cheaper() -> None:
    """Control over a core capability justifies self-hosting, and says so."""
    result = _evaluate(GPT4O_VS_LLAMA70B, requests_per_day=60_000, horizon="core")
    rationale = result.workloads[0].rationale
    assert result.outcome == "open_source_self_hosted"
    assert "managed on AWS Bedrock would cost $2,628 a month" in rationale


def test_low_volume_leans_to_a_proprietary_api() -> None:
    """The seed: below 10,000 a day proprietary APIs are simpler and competitive."""
    result = _evaluate(GPT4O_VS_LLAMA70B, requests_per_day=5_000)
    assert result.outcome == "proprietary_api"
    assert result.workloads[0].model_key == "gpt-4o"


def test_data_that_may_not_leave_gives_self_hosted_with_warnings() -> None:
    """Restricted data forces self-hosting; missing ML-ops and hard work are flagged."""
    result = _evaluate(
        data_classification="restricted",
        mlops_readiness="none",
        workloads=[{"task_type": "reasoning", "share": 100}],
        capability_need="frontier",
        requests_per_day=1_000,
        horizon="experiment",
    )
    assert result.outcome == "open_source_self_hosted"
    assert result.steps[0].decided
    assert any(w.startswith("Prerequisite") for w in result.warnings)
    assert any(w.startswith("Capability risk") for w in result.warnings)
    assert "data sovereignty" in result.workloads[0].rationale
    assert "not on cost" in result.workloads[0].rationale


def test_frontier_capability_goes_to_a_proprietary_api() -> None:
    """Needing the top ~5% of capability means proprietary, strongly."""
    result = _evaluate(capability_need="frontier", requests_per_day=200_000)
    assert result.outcome == "proprietary_api"
    assert result.steps[2].verdict == "proprietary_strongly"


def test_no_mlops_sends_open_work_to_a_managed_service() -> None:
    """Open-leaning work without ML-ops is managed open-source, not self-hosted."""
    result = _evaluate(
        mlops_readiness="none",
        requests_per_day=200_000,
        horizon="core",
        fine_tuning_data=True,
    )
    assert result.outcome == "open_source_managed"
    assert "managed on" in result.workloads[0].routing_rule


def test_limited_mlops_prefers_managed_even_above_the_break_even() -> None:
    """Limited ML-ops keeps high-volume open work on a managed service."""
    result = _evaluate(
        GPT4O_VS_LLAMA70B, mlops_readiness="limited", requests_per_day=200_000
    )
    assert result.outcome == "open_source_managed"


def test_an_experiment_leans_to_a_proprietary_api() -> None:
    """A neutral moderate task as an experiment goes to an API for speed."""
    result = _evaluate(GPT4O_VS_LLAMA70B, horizon="experiment", requests_per_day=40_000)
    assert result.outcome == "proprietary_api"


def test_mixed_workloads_get_a_hybrid_with_a_routing_rule_each() -> None:
    """85% classification self-hosted on a small open model, 15% reasoning on an API."""
    result = _evaluate(
        requests_per_day=400_000,
        avg_input_tokens=600,
        avg_output_tokens=100,
        workloads=[
            {"task_type": "classification", "share": 85},
            {"task_type": "reasoning", "share": 15},
        ],
        capability_need="frontier",
        horizon="core",
    )
    assert result.outcome == "hybrid"
    simple, hard = result.workloads
    assert simple.requests_per_day == pytest.approx(340_000)
    assert hard.requests_per_day == pytest.approx(60_000)
    assert simple.capability_tier == "standard"
    assert simple.outcome == "open_source_self_hosted"
    assert (
        simple.routing_rule == "85% classification → Llama 3.1 8B Instruct, self-hosted"
    )
    assert hard.outcome == "proprietary_api"
    assert hard.routing_rule.startswith("15% reasoning → ")
    assert hard.routing_rule.endswith("proprietary API")
    assert result.summary.startswith("Hybrid")
    assert result.recommended_monthly_cost == pytest.approx(
        simple.monthly_cost + hard.monthly_cost
    )


def test_it_says_when_open_wins_on_quality_or_control_rather_than_cost() -> None:
    """A self-hosted 8B model for simple core work costs more than Flash-Lite."""
    result = _evaluate(
        requests_per_day=100_000,
        workloads=[{"task_type": "classification", "share": 100}],
        capability_need="standard",
        horizon="core",
    )
    rationale = result.workloads[0].rationale
    assert result.outcome == "open_source_self_hosted"
    assert "not on cost" in rationale
    assert "quality" in rationale and "vendor independence" in rationale


def test_a_balanced_case_is_a_close_call_with_what_would_tip_it() -> None:
    """When the steps cancel out the result says so and lists the tipping changes."""
    result = _evaluate(GPT4O_VS_LLAMA70B, requests_per_day=30_000)
    assert result.close_call
    assert result.workloads[0].score == 0
    assert "close call" in result.workloads[0].rationale
    assert any("experiment horizon" in tip for tip in result.tips)


def test_a_proprietary_close_call_names_the_break_even_as_a_tip() -> None:
    """Just below the break-even, reaching it would tip the outcome to open."""
    result = _evaluate(GPT4O_VS_LLAMA70B, requests_per_day=45_000, horizon="experiment")
    assert result.outcome == "proprietary_api"
    assert result.close_call
    assert any("50,290 requests a day" in tip for tip in result.tips)


def test_it_falls_back_to_thresholds_when_the_token_profile_is_unknown() -> None:
    """Without tokens there are no costs, but the steps still decide."""
    result = _evaluate(
        avg_input_tokens=None, avg_output_tokens=None, requests_per_day=80_000
    )
    assert result.break_even_requests_per_day is None
    assert result.recommended_monthly_cost is None
    assert result.steps[1].lean == 1
    assert "fixed thresholds" in result.steps[1].rationale


def test_it_warns_when_the_recommended_api_is_deprecated_within_the_horizon() -> None:
    """A proprietary model listed for deprecation inside the horizon is flagged."""
    result = _evaluate(capability_need="frontier", horizon="core")
    assert result.outcome == "proprietary_api"
    assert any("deprecation" in w for w in result.warnings)


def test_it_records_the_policy_version_and_price_snapshot() -> None:
    """Assessments keep the policy version and the catalogue snapshot they used."""
    result = _evaluate()
    assert result.policy_version == DEFAULT_POLICY.version
    assert result.price_snapshot == CATALOGUE.snapshot


def test_it_draws_the_use_cases_cost_curves_for_a_chart() -> None:
    """Curves cover each option from zero to past the break-even."""
    result = _evaluate(GPT4O_VS_LLAMA70B)
    curves = {c.option: c for c in result.cost_curves()}
    assert {"proprietary_api", "open_source_self_hosted"} <= set(curves)
    assert curves["proprietary_api"].requests_per_day[-1] >= 100_000
    assert result.as_dict()["assumptions"]["ops_fte_share"] == 0.25
