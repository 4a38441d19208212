"""The cost model against reference/cost-model.md §3 (worked example, sensitivity)."""

from dataclasses import replace
from typing import Any

import pytest

from apps.framework.engine import (
    DEFAULT_POLICY,
    BreakEven,
    OpsAssumptions,
    ReplicaPlan,
    TokenProfile,
    api_cost_per_request,
    break_even,
    cost_curves,
    load_seed_catalogue,
    plan_self_hosting,
    priced_catalogue,
)

CATALOGUE = load_seed_catalogue()
SCENARIO_A = TokenProfile(avg_input_tokens=1500, avg_output_tokens=500, peak_factor=3)


def _assumptions(**policy_changes: Any) -> OpsAssumptions:
    policy = replace(DEFAULT_POLICY, **policy_changes)
    return policy.assumptions(mlops_readiness="established", horizon="production")


def _plan(
    model: str = "llama-3.1-70b",
    gpu: str = "h100-sxm-3usd",
    profile: TokenProfile = SCENARIO_A,
    **changes: Any,
) -> ReplicaPlan:
    plan = plan_self_hosting(
        CATALOGUE.model(model), CATALOGUE.gpu(gpu), profile, _assumptions(**changes)
    )
    assert plan is not None
    return plan


def _break_even(
    api_key: str, model: str = "llama-3.1-70b", gpu: str = "h100-sxm-3usd", **kw: Any
) -> BreakEven:
    profile = kw.pop("profile", SCENARIO_A)
    plan = _plan(model, gpu, profile, **kw)
    return break_even(api_cost_per_request(CATALOGUE.model(api_key), profile), plan)


def test_it_reproduces_the_seeds_fifty_thousand_a_day() -> None:
    """GPT-4o vs Llama 3.1 70B FP8 on 2xH100 at $3 breaks even near 50,300 a day."""
    result = _break_even("gpt-4o")
    # The reference rounds a month to 365/12 days; the policy uses 30.42.
    assert result.requests_per_day == pytest.approx(50_296, rel=5e-4)
    assert result.replicas == 2
    assert not result.at_step_edge


def test_it_itemises_the_worked_example_like_the_reference() -> None:
    """API $0.00875 a request; self-hosting $9,636 GPU + $3,750 ops = $13,386."""
    plan = _plan()
    cost = plan.cost(50_296)
    assert api_cost_per_request(CATALOGUE.model("gpt-4o"), SCENARIO_A) == (
        pytest.approx(0.00875)
    )
    assert plan.requests_per_second == pytest.approx(3.4, abs=0.05)
    assert plan.capacity_per_day == pytest.approx(58_800, rel=0.02)
    assert cost.replicas == 2
    assert cost.gpu_monthly_cost == pytest.approx(9_636)
    assert cost.ops_monthly_cost == pytest.approx(3_750)
    assert cost.total == pytest.approx(13_386)
    assert plan.marginal_cost_per_request == pytest.approx(0.0027, abs=5e-5)


def test_it_gives_the_gpu_only_break_even_beside_the_fully_loaded_one() -> None:
    """Without the ops share the same pair breaks even near 36,200 a day."""
    plan = _plan()
    price = api_cost_per_request(CATALOGUE.model("gpt-4o"), SCENARIO_A)
    assert break_even(price, plan, gpu_only=True).requests_per_day == (
        pytest.approx(36_206, rel=5e-4)
    )


@pytest.mark.parametrize(
    ("api_key", "model", "gpu", "changes", "expected"),
    [
        ("gpt-4o", "llama-3.1-70b", "h100-sxm-3usd", {"min_replicas": 1}, 32_193),
        ("gpt-4o", "llama-3.1-70b", "h100-sxm-3usd", {"ops_fte_share": 0.5}, 64_386),
        ("gpt-4o", "llama-3.1-70b", "h100-sxm-3usd", {"ops_fte_share": 1.0}, 92_566),
        ("gpt-4o", "llama-3.1-70b", "h100-sxm-runpod-community", {}, 46_554),
        ("gpt-4o", "llama-3.1-70b", "h100-sxm-aws-p5", {}, 97_122),
        ("gpt-4o", "llama-3.1-70b", "h100-sxm-3usd", {"gpu_overhead": 0.3}, 56_879),
        ("gpt-4.1", "llama-3.1-70b", "h100-sxm-3usd", {}, 62_870),
        ("gpt-4o-mini", "llama-3.1-8b", "h100-sxm-3usd", {}, 687_405),
        ("gpt-4.1-mini", "llama-3.1-8b", "h100-sxm-3usd", {}, 201_205),
        ("claude-haiku-4-5", "llama-3.1-8b", "h100-sxm-3usd", {}, 70_422),
        (
            "gpt-4o-mini",
            "llama-3.1-8b",
            "h100-sxm-3usd",
            {"min_replicas": 1, "ops_fte_share": 0.1},
            244_791,
        ),
    ],
)
def test_it_matches_the_references_sensitivity_tables(
    api_key: str, model: str, gpu: str, changes: dict[str, Any], expected: int
) -> None:
    """One change at a time from scenario A gives the reference's break-even."""
    result = _break_even(api_key, model, gpu, **changes)
    assert result.requests_per_day == pytest.approx(expected, rel=5e-4)


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        (TokenProfile(1500, 500, 1.5), 50_296),
        (TokenProfile(1500, 500, 3, cached_input_share=0.8), 60_702),
        (TokenProfile(1500, 500, 3, batch_share=1.0), 100_591),
        (TokenProfile(500, 150, 3), 160_032),
        (TokenProfile(4000, 300, 3), 33_853),
        (TokenProfile(8000, 1000, 3), 14_670),
    ],
)
def test_it_matches_the_references_token_profile_rows(
    profile: TokenProfile, expected: int
) -> None:
    """Caching, batch and prompt length move the break-even as the reference says."""
    result = _break_even("gpt-4o", profile=profile)
    assert result.requests_per_day == pytest.approx(expected, rel=5e-4)


def test_it_prices_cached_input_and_batch_traffic_from_the_models_own_prices() -> None:
    """80% cache hits cost $0.00725 a request; all-batch halves GPT-4o's price."""
    gpt4o = CATALOGUE.model("gpt-4o")
    cached = TokenProfile(1500, 500, 3, cached_input_share=0.8)
    batch = TokenProfile(1500, 500, 3, batch_share=1.0)
    assert api_cost_per_request(gpt4o, cached) == pytest.approx(0.00725)
    assert api_cost_per_request(gpt4o, batch) == pytest.approx(0.004375)


def test_it_uses_the_long_context_price_above_the_models_tier_threshold() -> None:
    """Gemini 2.5 Pro charges $2.50 per million input tokens above 200k."""
    gemini = CATALOGUE.model("gemini/gemini-2.5-pro")
    short = api_cost_per_request(gemini, TokenProfile(200_000, 0, 3))
    long = api_cost_per_request(gemini, TokenProfile(200_001, 0, 3))
    assert short == pytest.approx(0.25)
    assert long == pytest.approx(200_001 * 2.5 / 1e6)


@pytest.mark.parametrize(
    ("api_key", "model", "gpu", "changes"),
    [
        ("gpt-4o", "llama-3.1-70b", "h100-sxm-azure-nd", {}),
        ("gemini/gemini-2.5-flash", "llama-3.1-70b", "h100-sxm-3usd", {}),
        ("llama-3.1-70b", "llama-3.1-70b", "h100-sxm-3usd", {}),
        ("gpt-4o-mini", "llama-3.1-8b", "l4-aws-g6", {}),
    ],
)
def test_it_says_never_when_a_self_hosted_request_costs_more_at_the_margin(
    api_key: str, model: str, gpu: str, changes: dict[str, Any]
) -> None:
    """Hyperscaler GPUs, cheap APIs and managed open models have no break-even."""
    plan = _plan(model, gpu, **changes)
    price = api_cost_per_request(CATALOGUE.model(api_key), SCENARIO_A)
    assert plan.marginal_cost_per_request >= price
    assert break_even(price, plan).never
    assert break_even(price, plan, gpu_only=True).never


def test_it_finds_the_managed_open_break_even_only_for_flat_traffic() -> None:
    """Against Bedrock Llama 70B, DIY pays only at ~306k/day with peak 1, 1 replica."""
    flat = TokenProfile(1500, 500, 1.0)
    result = _break_even("llama-3.1-70b", profile=flat, min_replicas=1)
    assert result.requests_per_day == pytest.approx(305_616, rel=5e-4)


def test_it_puts_cheap_small_apis_against_an_8b_model_in_the_millions() -> None:
    """Simple-task self-hosting beats Flash-Lite or Bedrock 8B only above 1M/day."""
    for api_key in ("gemini/gemini-2.5-flash-lite", "llama-3.1-8b"):
        result = _break_even(api_key, "llama-3.1-8b")
        assert result.requests_per_day is not None
        assert result.requests_per_day > 1_000_000


def test_it_adds_replicas_as_volume_passes_each_replicas_capacity() -> None:
    """Two replicas cover up to twice a replica's capacity; a third beyond that."""
    plan = _plan()
    assert plan.replicas(0) == 2
    assert plan.replicas(2 * plan.capacity_per_day) == 2
    assert plan.replicas(2 * plan.capacity_per_day + 1) == 3
    assert plan.monthly_cost(3 * plan.capacity_per_day) == pytest.approx(
        3 * plan.replica_monthly_cost + plan.fixed_monthly_cost
    )


def test_it_spreads_set_up_cost_over_the_horizon() -> None:
    """A $24,000 set-up over a 24-month production horizon adds $1,000 a month."""
    plan = _plan(setup_cost=24_000)
    assert plan.setup_monthly_cost == pytest.approx(1_000)
    assert plan.floor_monthly_cost == pytest.approx(14_386)


def test_it_uses_more_ops_time_without_mlops() -> None:
    """With no ML-ops the policy's higher FTE share (0.5) prices forced self-hosting."""
    assumptions = DEFAULT_POLICY.assumptions(mlops_readiness="none", horizon="core")
    assert assumptions.ops_monthly_cost == pytest.approx(7_500)
    assert assumptions.amortisation_months == 36


def test_it_draws_cost_curves_that_cross_at_the_break_even() -> None:
    """The chart's API and self-hosted lines cross where the break-even says."""
    priced = priced_catalogue(
        CATALOGUE.only("gpt-4o", "llama-3.1-70b"), SCENARIO_A, _assumptions()
    )
    comparison = priced.compare(
        capability_tier="advanced", context_needed=2000, requests_per_day=50_000
    )
    curves = {c.option: c for c in cost_curves(comparison, assumptions=_assumptions())}
    api = curves["proprietary_api"]
    hosted = curves["open_source_self_hosted"]
    assert set(curves) == {
        "proprietary_api",
        "open_source_self_hosted",
        "open_source_self_hosted_gpu_only",
        "open_source_managed",
    }
    assert api.requests_per_day[0] == 0
    assert api.requests_per_day[-1] >= 2 * 50_290
    below = [
        x
        for x, a, h in zip(
            api.requests_per_day, api.monthly_cost, hosted.monthly_cost, strict=True
        )
        if a < h
    ]
    assert max(below) < 50_300
    assert api.as_dict()["monthly_cost"][0] == 0
