"""Invariants of pooled self-hosting over generated portfolios."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.framework.engine import (
    CAPABILITY_TIERS,
    DATA_CLASSIFICATIONS,
    DEFAULT_POLICY,
    HORIZONS,
    MLOPS_READINESS,
    TASK_TYPES,
    Inputs,
    PortfolioUseCase,
    evaluate,
    load_seed_catalogue,
    plan_portfolio,
)

SEED = load_seed_catalogue()


@st.composite
def use_cases(draw: st.DrawFn, uid: int) -> PortfolioUseCase:
    tasks = draw(
        st.lists(st.sampled_from(TASK_TYPES), min_size=1, max_size=3, unique=True)
    )
    shares = [100 // len(tasks)] * len(tasks)
    shares[0] += 100 - sum(shares)
    known = draw(st.sampled_from([True, True, True, False]))  # mostly costed
    data = {
        "data_classification": draw(st.sampled_from(DATA_CLASSIFICATIONS)),
        "must_stay_in_infrastructure": draw(st.booleans()),
        "requests_per_day": draw(st.floats(0, 500_000)),
        "avg_input_tokens": draw(st.floats(50, 8_000)) if known else None,
        "avg_output_tokens": draw(st.floats(10, 1_500)) if known else None,
        "peak_factor": draw(st.sampled_from([None, 1.0, 2.0, 5.0])),
        "workloads": [
            {"task_type": t, "share": s} for t, s in zip(tasks, shares, strict=True)
        ],
        "capability_need": draw(st.sampled_from(CAPABILITY_TIERS)),
        "mlops_readiness": draw(st.sampled_from(MLOPS_READINESS)),
        "horizon": draw(st.sampled_from(HORIZONS)),
        "fine_tuning_data": draw(st.booleans()),
    }
    return PortfolioUseCase(
        id=f"uc-{uid}",
        name=f"Use-case {uid}",
        team=draw(st.sampled_from(["Claims", "Risk", "Service"])),
        inputs=Inputs.from_dict(data),
    )


@st.composite
def portfolios(draw: st.DrawFn) -> list[PortfolioUseCase]:
    count = draw(st.integers(0, 12))
    return [draw(use_cases(i)) for i in range(count)]


@settings(max_examples=120, deadline=None, database=None)
@given(portfolio=portfolios(), readiness=st.sampled_from(MLOPS_READINESS))
def test_pooled_cost_never_exceeds_the_sum_of_stand_alone_costs(
    portfolio: list[PortfolioUseCase], readiness: str
) -> None:
    plan = plan_portfolio(portfolio, DEFAULT_POLICY, SEED, mlops_readiness=readiness)

    alone = sum(
        evaluate(u.use_case.inputs, DEFAULT_POLICY, SEED).recommended_monthly_cost or 0
        for u in plan.use_cases
    )
    assert plan.monthly_cost <= alone + 1e-6 * max(1.0, alone)
    for u in plan.use_cases:
        assert u.monthly_cost <= u.standalone_monthly_cost * (1 + 1e-9) + 1e-9
    for pool in plan.pools:
        assert pool.saving > 0
        assert sum(m.monthly_cost for m in pool.members) == pytest.approx(
            pool.monthly_cost
        )


@settings(max_examples=120, deadline=None, database=None)
@given(portfolio=portfolios(), readiness=st.sampled_from(MLOPS_READINESS))
def test_every_use_case_and_workload_is_placed_exactly_once(
    portfolio: list[PortfolioUseCase], readiness: str
) -> None:
    plan = plan_portfolio(portfolio, DEFAULT_POLICY, SEED, mlops_readiness=readiness)

    placed = [u.id for u in plan.use_cases] + [u.use_case.id for u in plan.unplaced]
    assert Counter(placed) == Counter(u.id for u in portfolio)
    for u in plan.use_cases:
        assert [w.task_type for w in u.workloads] == [
            w.task_type for w in u.use_case.inputs.workloads
        ]
    in_pools = Counter(
        (m.use_case_id, m.task_type) for pool in plan.pools for m in pool.members
    )
    assert all(n == 1 for n in in_pools.values())
    pooled_workloads = {
        (u.id, w.task_type) for u in plan.use_cases for w in u.workloads if w.pool
    }
    assert pooled_workloads == set(in_pools)


@settings(max_examples=80, deadline=None, database=None)
@given(portfolio=portfolios(), readiness=st.sampled_from(MLOPS_READINESS))
def test_data_that_must_stay_is_only_ever_planned_in_house(
    portfolio: list[PortfolioUseCase], readiness: str
) -> None:
    plan = plan_portfolio(portfolio, DEFAULT_POLICY, SEED, mlops_readiness=readiness)

    for u in plan.use_cases:
        if u.standalone.steps[0].decided:  # data governance: may not leave
            assert {w.hosted_by for w in u.workloads} == {"in-house"}
