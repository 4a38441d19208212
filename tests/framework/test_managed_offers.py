"""Several managed hosts for one open model: the engine and planner compare them."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from apps.framework.engine import (
    DEFAULT_POLICY,
    Catalogue,
    InputError,
    Inputs,
    ManagedOffer,
    ModelSpec,
    PortfolioUseCase,
    Scenario,
    evaluate,
    load_seed_catalogue,
    plan_portfolio,
    plan_scenario,
)
from apps.framework.engine.planner import PriceChange, vendors

SEED = load_seed_catalogue()
BEDROCK = ManagedOffer(
    provider="AWS Bedrock",
    input_usd_per_mtok=0.72,
    output_usd_per_mtok=0.72,
    regions=("us-east-1", "ap-southeast-2"),
    data_residency="Processed in the region called; AWS-operated tenancy.",
    price_source="S1 bedrock/meta.llama3-1-70b-instruct-v1:0",
    price_date="2026-11-25",
)
FOUNDRY = ManagedOffer(
    provider="Azure AI Foundry",
    input_usd_per_mtok=0.60,
    output_usd_per_mtok=0.60,
    regions=("australiaeast",),
    data_residency="Serverless in our own subscription, Australia East.",
    inside_our_infrastructure=True,
    price_source="example list price",
    price_date="2026-11-25",
)


def _catalogue(*offers: ManagedOffer) -> Catalogue:
    """GPT-4o, and Llama 3.1 70B offered by the given clouds (and self-hostable)."""
    narrowed = SEED.only("gpt-4o", "llama-3.1-70b")
    llama = dataclasses.replace(narrowed.model("llama-3.1-70b"), managed_offers=offers)
    return Catalogue(
        snapshot=narrowed.snapshot,
        models=(narrowed.model("gpt-4o"), llama),
        gpu_profiles=narrowed.gpu_profiles,
        default_gpu_profile=narrowed.default_gpu_profile,
    )


def _inputs(**changes: Any) -> Inputs:
    data: dict[str, Any] = {
        "data_classification": "internal",
        "must_stay_in_infrastructure": False,
        "requests_per_day": 20_000,
        "avg_input_tokens": 1_500,
        "avg_output_tokens": 500,
        "workloads": [{"task_type": "summarisation", "share": 100}],
        "capability_need": "advanced",
        "mlops_readiness": "limited",
        "horizon": "production",
        "fine_tuning_data": True,
    }
    data.update(changes)
    return Inputs.from_dict(data)


def test_the_engine_picks_the_cheaper_of_two_managed_hosts() -> None:
    """Per request: Bedrock (1,500 + 500) x $0.72 / 1e6 = $0.00144; Azure AI
    Foundry 2,000 x $0.60 / 1e6 = $0.0012. A month at 20,000 a day on Foundry:
    20,000 x 30.42 x $0.0012 = $730.08."""
    result = evaluate(_inputs(), DEFAULT_POLICY, _catalogue(BEDROCK, FOUNDRY))

    managed = result.costs.managed
    assert managed is not None and managed.hosted_by == "Azure AI Foundry"
    assert managed.cost_per_request == pytest.approx(0.0012)
    assert result.outcome == "open_source_managed"
    assert result.recommended_monthly_cost == pytest.approx(730.08)
    assert "managed on Azure AI Foundry" in result.workloads[0].routing_rule


def test_data_that_must_stay_never_goes_to_an_offer_outside_our_infrastructure() -> (
    None
):
    forced = _inputs(must_stay_in_infrastructure=True)

    only_external = evaluate(forced, DEFAULT_POLICY, _catalogue(BEDROCK))
    assert only_external.outcome == "open_source_self_hosted"
    assert only_external.costs.managed is None

    with_ours = evaluate(forced, DEFAULT_POLICY, _catalogue(BEDROCK, FOUNDRY))
    assert with_ours.outcome == "open_source_managed"
    assert with_ours.workloads[0].costs.managed.hosted_by == "Azure AI Foundry"
    assert "inside our infrastructure" in with_ours.workloads[0].rationale


def test_the_planner_never_moves_must_stay_data_to_an_external_offer() -> None:
    use_cases = [
        PortfolioUseCase(
            id=str(i),
            name=f"Sovereign {i}",
            team="Health",
            inputs=_inputs(must_stay_in_infrastructure=True, mlops_readiness="none"),
        )
        for i in range(3)
    ]
    plan = plan_portfolio(use_cases, DEFAULT_POLICY, _catalogue(BEDROCK))
    for u in plan.use_cases:
        assert {w.hosted_by for w in u.workloads} == {"in-house"}


def test_a_price_rise_at_one_host_moves_traffic_to_the_other() -> None:
    catalogue = _catalogue(BEDROCK, FOUNDRY)
    assert {"AWS Bedrock", "Azure AI Foundry"} <= set(vendors(catalogue))
    use_cases = [PortfolioUseCase(id="a", name="A", team="Claims", inputs=_inputs())]
    scenario = Scenario(price_changes=(PriceChange("Azure AI Foundry", 50),))

    plan = plan_scenario(use_cases, DEFAULT_POLICY, catalogue, scenario)

    # Foundry at $0.90 a million: $0.0018 a request, dearer than Bedrock's $0.00144.
    assert plan.use_case("a").workloads[0].hosted_by == "AWS Bedrock"


def test_offers_round_trip_and_bad_ones_are_refused_per_field() -> None:
    llama = dataclasses.replace(
        SEED.model("llama-3.1-70b"), managed_offers=(BEDROCK, FOUNDRY)
    )
    assert ModelSpec.from_dict(llama.as_dict()) == llama
    data = llama.as_dict()
    data["managed_offers"][1] = {**data["managed_offers"][1], "input_usd_per_mtok": -1}
    del data["managed_offers"][0]["provider"]
    with pytest.raises(InputError) as caught:
        ModelSpec.from_dict(data)
    assert set(caught.value.errors) == {
        "managed_offers[0].provider",
        "managed_offers[1].input_usd_per_mtok",
    }
