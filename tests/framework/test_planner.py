"""The portfolio planner in the engine: pooled self-hosting across use-cases."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from apps.framework.engine import (
    DEFAULT_POLICY,
    Catalogue,
    InputError,
    Inputs,
    PortfolioUseCase,
    Scenario,
    apply_to_catalogue,
    changes_between,
    evaluate,
    load_seed_catalogue,
    plan_portfolio,
    plan_scenario,
)

SEED = load_seed_catalogue()


def _gpt4o_and_self_hosted_llama_70b() -> Catalogue:
    """Scenario A of the cost-model reference: GPT-4o against Llama 3.1 70B FP8 on
    2xH100 at $3/GPU-hour; the Llama model is self-hosted only (no managed offer),
    so the choice is the reference's API-or-self-host one."""
    narrowed = SEED.only("gpt-4o", "llama-3.1-70b")
    llama = dataclasses.replace(
        narrowed.model("llama-3.1-70b"), hosting=("self_hosted",)
    )
    return Catalogue(
        snapshot=narrowed.snapshot,
        models=(narrowed.model("gpt-4o"), llama),
        gpu_profiles=narrowed.gpu_profiles,
        default_gpu_profile=narrowed.default_gpu_profile,
    )


SCENARIO_A = _gpt4o_and_self_hosted_llama_70b()


def _inputs(**changes: Any) -> Inputs:
    data: dict[str, Any] = {
        "data_classification": "internal",
        "must_stay_in_infrastructure": False,
        "requests_per_day": 30_000,
        "avg_input_tokens": 1_500,
        "avg_output_tokens": 500,
        "workloads": [{"task_type": "summarisation", "share": 100}],
        "capability_need": "advanced",
        "mlops_readiness": "established",
        "horizon": "production",
    }
    data.update(changes)
    return Inputs.from_dict(data)


def _use_case(uid: str, team: str = "Claims", **changes: Any) -> PortfolioUseCase:
    return PortfolioUseCase(
        id=uid, name=f"Use-case {uid}", team=team, inputs=_inputs(**changes)
    )


def test_two_use_cases_below_break_even_alone_are_pooled_above_it() -> None:
    """Each sits at 30,000 a day, below the 50,290 break-even, so each alone goes
    to GPT-4o; together (60,000) one shared deployment is cheaper.

    Hand calculation (reference/cost-model.md §2.2, §2.3, §3):
      API cost a request      = (1,500 x $2.50 + 500 x $10.00) / 1e6  = $0.00875
      each use-case on GPT-4o = 30,000 x 30.42 x $0.00875             = $7,985.25
      both stand-alone        = 2 x $7,985.25                          = $15,970.50
      one replica carries     = 0.65 / (1,500/13,600 + 500/6,300) x 0.6 x 86,400 / 3
                              ~ 59,200 requests a day, so 60,000 a day needs
                              ceil(1.01) = 2 replicas, the availability minimum
      GPUs                    = 2 replicas x 2 GPUs x $3.00 x 730 h x 1.10 = $9,636
      operations (one pool)   = 0.25 x $180,000 / 12                   = $3,750
      pool                    = $9,636 + $3,750                        = $13,386
      saving                  = $15,970.50 - $13,386                   = $2,584.50
      each use-case's share   = 50 % of the tokens x $13,386           = $6,693
    """
    alone = evaluate(_inputs(), DEFAULT_POLICY, SCENARIO_A)
    assert alone.outcome == "proprietary_api"
    assert alone.break_even_requests_per_day == pytest.approx(50_290, rel=5e-4)

    plan = plan_portfolio([_use_case("a"), _use_case("b")], DEFAULT_POLICY, SCENARIO_A)

    assert len(plan.pools) == 1
    pool = plan.pools[0]
    assert pool.model_key == "llama-3.1-70b"
    assert pool.use_case_ids == ("a", "b")
    assert pool.replicas == 2 and pool.gpus == 4
    assert pool.gpu_monthly_cost == pytest.approx(9_636)
    assert pool.ops_monthly_cost == pytest.approx(3_750)
    assert pool.monthly_cost == pytest.approx(13_386)
    assert plan.standalone_monthly_cost == pytest.approx(15_970.50)
    assert plan.saving == pytest.approx(2_584.50)
    assert [m.monthly_cost for m in pool.members] == pytest.approx([6_693, 6_693])
    assert plan.use_case("a").outcome == "open_source_self_hosted"
    assert "$13,386 a month, against $15,971" in pool.explanation
    note = plan.use_case("a").explanation
    assert "on its own, proprietary API" in note
    assert "pooled with 1 other use-case on Llama 3.1 70B" in note


def test_a_use_case_that_no_pool_helps_keeps_its_own_answer() -> None:
    """One use-case alone at 30,000 a day: a pool of one is its own self-hosting,
    dearer than GPT-4o, so nothing is pooled and the plan equals stand-alone."""
    plan = plan_portfolio([_use_case("a")], DEFAULT_POLICY, SCENARIO_A)

    assert plan.pools == ()
    assert plan.saving == 0
    assert plan.use_case("a").workloads[0].option == "proprietary_api"
    assert "no pool lowers its cost" in plan.use_case("a").explanation


def test_data_that_must_stay_is_never_planned_on_a_managed_or_external_option() -> None:
    """Sovereign use-cases are pooled in-house or stay self-hosted alone, even where
    a managed offer of the same model is far cheaper for everyone else."""
    use_cases = [
        _use_case("sovereign-1", must_stay_in_infrastructure=True),
        _use_case("sovereign-2", data_classification="restricted"),
        _use_case("health", special_categories=["health"], requests_per_day=500),
        _use_case("open-1", requests_per_day=200_000),
        _use_case("open-2", requests_per_day=800),
    ]
    plan = plan_portfolio(use_cases, DEFAULT_POLICY, SEED)

    for uid in ("sovereign-1", "sovereign-2", "health"):
        for w in plan.use_case(uid).workloads:
            assert w.option in ("pooled", "open_source_self_hosted")
            assert w.hosted_by == "in-house"
    # The pool shares their replicas and operations, cheaper than three alone.
    assert plan.pools and plan.saving > 0
    assert {m.use_case_id for m in plan.pools[0].members} >= {
        "sovereign-1",
        "sovereign-2",
        "health",
    }
    assert all(
        m.data_must_stay for m in plan.pools[0].members if "sov" in m.use_case_id
    )


def test_pooling_never_makes_any_use_case_worse_than_stand_alone() -> None:
    """Across a mixed portfolio each use-case's planned cost is at most its own."""
    use_cases = [
        _use_case(str(i), requests_per_day=volume, avg_input_tokens=tokens)
        for i, (volume, tokens) in enumerate(
            [
                (800, 300),
                (5_000, 1_500),
                (20_000, 4_000),
                (60_000, 1_500),
                (400_000, 300),
            ]
        )
    ] + [_use_case("must-stay", must_stay_in_infrastructure=True)]
    plan = plan_portfolio(use_cases, DEFAULT_POLICY, SEED)

    for u in plan.use_cases:
        alone = evaluate(u.use_case.inputs, DEFAULT_POLICY, SEED)
        assert u.monthly_cost <= (alone.recommended_monthly_cost or 0) + 1e-6
        assert u.standalone_monthly_cost == pytest.approx(
            alone.recommended_monthly_cost
        )


def test_a_vendor_price_scenario_equals_evaluate_on_the_changed_catalogue() -> None:
    """OpenAI +30 %: each use-case's stand-alone answer in the scenario is exactly
    evaluate() on a catalogue whose OpenAI prices are 1.3 times the seed's."""
    use_cases = [
        _use_case("a", requests_per_day=20_000),
        _use_case(
            "b",
            requests_per_day=2_000,
            workloads=[{"task_type": "classification", "share": 100}],
            capability_need="standard",
        ),
    ]
    scenario = Scenario(price_changes=(_price("OpenAI", 30),))
    plan = plan_scenario(use_cases, DEFAULT_POLICY, SEED, scenario)

    by_hand = Catalogue(
        snapshot=SEED.snapshot,
        models=tuple(
            dataclasses.replace(
                m,
                input_usd_per_mtok=m.input_usd_per_mtok * 1.3,
                output_usd_per_mtok=m.output_usd_per_mtok * 1.3,
                cached_input_usd_per_mtok=m.cached_input_usd_per_mtok * 1.3
                if m.cached_input_usd_per_mtok is not None
                else None,
                batch_input_usd_per_mtok=m.batch_input_usd_per_mtok * 1.3
                if m.batch_input_usd_per_mtok is not None
                else None,
                batch_output_usd_per_mtok=m.batch_output_usd_per_mtok * 1.3
                if m.batch_output_usd_per_mtok is not None
                else None,
            )
            if (m.hosted_by or m.provider) == "OpenAI" and m.is_token_priced
            else m
            for m in SEED.models
        ),
        gpu_profiles=SEED.gpu_profiles,
        default_gpu_profile=SEED.default_gpu_profile,
    )
    assert SEED.model("gpt-4o").input_usd_per_mtok == 2.5  # the seed is untouched
    for u in plan.use_cases:
        expected = evaluate(u.use_case.inputs, DEFAULT_POLICY, by_hand)
        assert u.standalone.as_dict() == expected.as_dict()


def test_a_withdrawn_model_moves_the_use_cases_that_used_it() -> None:
    """ "Model Y withdrawn" lists the use-cases whose answer changes, with the cost."""
    use_cases = [
        _use_case(
            "mini",
            requests_per_day=2_000,
            workloads=[{"task_type": "classification", "share": 100}],
            capability_need="standard",
        ),
        _use_case("big", requests_per_day=20_000),
    ]
    before = plan_portfolio(use_cases, DEFAULT_POLICY, SEED)
    used = before.use_case("mini").workloads[0].model_key
    assert used is not None
    after = plan_scenario(
        use_cases, DEFAULT_POLICY, SEED, Scenario(retired_models=(used,))
    )
    moves = {m.use_case_id: m for m in changes_between(before, after)}

    assert "mini" in moves
    assert after.use_case("mini").workloads[0].model_key != used
    assert moves["mini"].cost_of_moving == pytest.approx(
        after.use_case("mini").monthly_cost - before.use_case("mini").monthly_cost
    )


def test_a_use_case_without_a_token_profile_is_listed_with_the_reason() -> None:
    use_cases = [
        _use_case("known"),
        _use_case("unknown", avg_input_tokens=None, avg_output_tokens=None),
    ]
    plan = plan_portfolio(use_cases, DEFAULT_POLICY, SEED)

    assert [u.id for u in plan.use_cases] == ["known"]
    assert [u.use_case.id for u in plan.unplaced] == ["unknown"]
    assert "Token profile unknown" in plan.unplaced[0].reason
    assert "could not be costed" in plan.summary


def test_an_empty_portfolio_gives_an_empty_plan() -> None:
    plan = plan_portfolio([], DEFAULT_POLICY, SEED)
    assert plan.pools == () and plan.use_cases == () and plan.monthly_cost == 0
    assert plan.summary == "No use-cases to plan."


def test_without_platform_ml_ops_only_data_that_must_stay_is_pooled() -> None:
    use_cases = [_use_case("a"), _use_case("b")]
    plan = plan_portfolio(use_cases, DEFAULT_POLICY, SCENARIO_A, mlops_readiness="none")
    assert plan.pools == ()


def test_volume_for_one_team_changes_only_that_team() -> None:
    use_cases = [_use_case("claims", team="Claims"), _use_case("risk", team="Risk")]
    scenario = Scenario.from_dict(
        {"volume_changes": [{"team": "Claims", "factor": 3}]},
        catalogue=SEED,
        teams=["Claims", "Risk"],
    )
    plan = plan_scenario(use_cases, DEFAULT_POLICY, SEED, scenario)

    assert plan.use_case("claims").use_case.inputs.requests_per_day == 90_000
    assert plan.use_case("risk").use_case.inputs.requests_per_day == 30_000


def test_a_scenario_refuses_unknown_vendors_models_teams_and_out_of_range_values() -> (
    None
):
    with pytest.raises(InputError) as caught:
        Scenario.from_dict(
            {
                "volume_changes": [{"team": "Nobody", "factor": 0}],
                "price_changes": [{"vendor": "Acme AI", "percent": 5_000}],
                "retired_models": ["gpt-99"],
                "gpu_usd_per_hour": -1,
                "mlops_readiness": "heroic",
                "colour": "blue",
            },
            catalogue=SEED,
            teams=["Claims"],
        )
    errors = caught.value.errors
    assert set(errors) == {
        "volume_changes[0].factor",
        "volume_changes[0].team",
        "price_changes[0].vendor",
        "price_changes[0].percent",
        "retired_models",
        "gpu_usd_per_hour",
        "mlops_readiness",
        "colour",
    }


def test_a_gpu_price_scenario_reprices_the_default_profile_only() -> None:
    changed = apply_to_catalogue(SEED, Scenario(gpu_usd_per_hour=2.0))
    assert changed.gpu(SEED.default_gpu_profile).usd_per_gpu_hour == 2.0
    others = [g for g in changed.gpu_profiles if g.key != SEED.default_gpu_profile]
    assert [g.usd_per_gpu_hour for g in others] == [
        g.usd_per_gpu_hour
        for g in SEED.gpu_profiles
        if g.key != SEED.default_gpu_profile
    ]


def _price(vendor: str, percent: float) -> Any:
    from apps.framework.engine.planner import PriceChange

    return PriceChange(vendor=vendor, percent=percent)
