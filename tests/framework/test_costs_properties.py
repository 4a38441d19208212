"""Properties of the break-even search over generated prices and replica plans."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.framework.engine import ReplicaPlan, break_even

DAYS = 30.42


@st.composite
def plans(draw: st.DrawFn) -> ReplicaPlan:
    gpus = draw(st.sampled_from([1, 2, 4, 8]))
    hourly = draw(st.floats(0.5, 15))
    overhead = draw(st.floats(0, 0.5))
    return ReplicaPlan(
        model_key="m",
        gpu_profile="g",
        gpus_per_replica=gpus,
        usd_per_gpu_hour=hourly,
        requests_per_second=draw(st.floats(0.2, 150)),
        capacity_per_day=draw(st.floats(1_000, 2_000_000)),
        replica_monthly_cost=gpus * hourly * 730 * (1 + overhead),
        ops_monthly_cost=draw(st.floats(0, 30_000)),
        setup_monthly_cost=draw(st.floats(0, 5_000)),
        min_replicas=draw(st.integers(1, 3)),
        days_per_month=DAYS,
    )


api_prices = st.floats(1e-5, 0.1)


def _api(price: float, requests: float) -> float:
    return DAYS * requests * price


@settings(max_examples=300, deadline=None, database=None)
@given(plan=plans(), price=api_prices, gpu_only=st.booleans())
def test_it_finds_where_the_two_cost_totals_agree_within_one_percent(
    plan: ReplicaPlan, price: float, gpu_only: bool
) -> None:
    """Inside a replica step both totals agree; on a step edge hosting turns cheaper."""
    result = break_even(price, plan, gpu_only=gpu_only)
    if result.never:
        assert plan.marginal_cost_per_request >= price
        return
    point = result.requests_per_day
    hosted = plan.monthly_cost(point, gpu_only=gpu_only)
    if result.at_step_edge:
        just_above = point * (1 + 1e-6) + 1e-6
        assert (
            plan.monthly_cost(just_above, gpu_only=gpu_only)
            <= _api(price, just_above) * 1.01
        )
    else:
        assert hosted == pytest.approx(_api(price, point), rel=0.01)


@settings(max_examples=300, deadline=None, database=None)
@given(plan=plans(), price=api_prices)
def test_it_reports_the_first_volume_where_self_hosting_stops_costing_more(
    plan: ReplicaPlan, price: float
) -> None:
    """Below the break-even self-hosting costs more than the API at every volume."""
    result = break_even(price, plan)
    if result.never:
        return
    point = result.requests_per_day
    for fraction in (0, 0.25, 0.5, 0.9, 0.99):
        volume = point * fraction
        assert plan.monthly_cost(volume) >= _api(price, volume) * (1 - 1e-9)


@settings(max_examples=200, deadline=None, database=None)
@given(plan=plans(), price=api_prices)
def test_it_has_a_break_even_exactly_when_self_hosted_margins_are_cheaper(
    plan: ReplicaPlan, price: float
) -> None:
    """ "Never" if and only if a self-hosted request costs at least an API request."""
    result = break_even(price, plan)
    assert result.never == (plan.marginal_cost_per_request >= price * (1 - 1e-12))


@settings(max_examples=200, deadline=None, database=None)
@given(plan=plans(), price=api_prices)
def test_it_never_puts_the_gpu_only_break_even_above_the_fully_loaded_one(
    plan: ReplicaPlan, price: float
) -> None:
    """Leaving out operations and set-up can only lower the break-even."""
    full = break_even(price, plan)
    gpu = break_even(price, plan, gpu_only=True)
    assert full.never == gpu.never
    if not full.never:
        assert gpu.requests_per_day <= full.requests_per_day * (1 + 1e-9)
