"""Invariants of evaluate() over generated inputs (hypothesis)."""

from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from apps.framework.engine import (
    CAPABILITY_TIERS,
    DATA_CLASSIFICATIONS,
    DEFAULT_POLICY,
    HORIZONS,
    MLOPS_READINESS,
    OUTCOMES,
    SPECIAL_CATEGORIES,
    STEPS,
    TASK_TYPES,
    Assessment,
    Inputs,
    evaluate,
    load_seed_catalogue,
)

CATALOGUE = load_seed_catalogue()
OPEN = {"open_source_self_hosted", "open_source_managed"}
FAST = settings(max_examples=200, deadline=None, database=None)


@st.composite
def workloads(draw: st.DrawFn) -> list[dict[str, Any]]:
    tasks = draw(
        st.lists(st.sampled_from(TASK_TYPES), min_size=1, max_size=3, unique=True)
    )
    cuts = sorted(
        draw(
            st.lists(
                st.integers(1, 99),
                min_size=len(tasks) - 1,
                max_size=len(tasks) - 1,
                unique=True,
            )
        )
    )
    bounds = [0, *cuts, 100]
    return [
        {"task_type": task, "share": bounds[i + 1] - bounds[i]}
        for i, task in enumerate(tasks)
    ]


@st.composite
def payloads(draw: st.DrawFn, **fixed: Any) -> dict[str, Any]:
    known = draw(st.booleans()) if "avg_input_tokens" not in fixed else True
    data = {
        "data_classification": draw(st.sampled_from(DATA_CLASSIFICATIONS)),
        "special_categories": draw(
            st.lists(st.sampled_from(SPECIAL_CATEGORIES), unique=True, max_size=2)
        ),
        "must_stay_in_infrastructure": draw(st.booleans()),
        "requests_per_day": draw(st.integers(0, 5_000_000)),
        "avg_input_tokens": draw(st.integers(50, 20_000)) if known else None,
        "avg_output_tokens": draw(st.integers(1, 4_000)) if known else None,
        "peak_factor": draw(st.one_of(st.none(), st.floats(1, 5))),
        "workloads": draw(workloads()),
        "capability_need": draw(st.sampled_from(CAPABILITY_TIERS)),
        "context_tokens": draw(st.sampled_from([0, 8_000, 100_000, 300_000])),
        "mlops_readiness": draw(st.sampled_from(MLOPS_READINESS)),
        "horizon": draw(st.sampled_from(HORIZONS)),
        "fine_tuning_data": draw(st.booleans()),
    }
    data.update(fixed)
    return data


def _evaluate(data: dict[str, Any]) -> Assessment:
    return evaluate(Inputs.from_dict(data), DEFAULT_POLICY, CATALOGUE)


def _may_leave(data: dict[str, Any]) -> bool:
    return not (
        data["must_stay_in_infrastructure"]
        or data["data_classification"] == "restricted"
        or {"health", "government", "indigenous"} & set(data["special_categories"])
    )


@FAST
@given(data=payloads())
def test_it_always_gives_a_well_formed_answer(data: dict[str, Any]) -> None:
    """Any valid inputs give a known outcome and the five steps in order."""
    result = _evaluate(data)
    assert result.outcome in OUTCOMES
    assert [s.step for s in result.steps] == list(STEPS)
    assert all(s.rationale for s in result.steps)
    assert len(result.workloads) == len(data["workloads"])


@FAST
@given(data=payloads(must_stay_in_infrastructure=True))
def test_data_that_may_not_leave_always_gives_self_hosted(data: dict[str, Any]) -> None:
    """Whatever else is true, data that must stay is self-hosted on open models."""
    result = _evaluate(data)
    assert result.outcome == "open_source_self_hosted"
    assert {w.outcome for w in result.workloads} == {"open_source_self_hosted"}


@FAST
@given(data=payloads(data_classification="restricted"))
def test_restricted_data_always_gives_self_hosted(data: dict[str, Any]) -> None:
    """Restricted data may not leave under the default policy."""
    assert _evaluate(data).outcome == "open_source_self_hosted"


@FAST
@given(
    data=payloads(
        must_stay_in_infrastructure=False,
        data_classification="internal",
        mlops_readiness="none",
    )
)
def test_without_mlops_data_that_may_leave_is_never_self_hosted(
    data: dict[str, Any],
) -> None:
    """No ML-ops and no governance constraint: never open-source self-hosted."""
    assume(_may_leave(data))
    result = _evaluate(data)
    assert result.outcome != "open_source_self_hosted"
    assert all(w.outcome != "open_source_self_hosted" for w in result.workloads)


@FAST
@given(data=payloads(), extra=st.integers(1, 10_000_000))
def test_more_volume_never_moves_an_open_outcome_to_proprietary(
    data: dict[str, Any], extra: int
) -> None:
    """All else equal, raising requests a day keeps an open outcome open."""
    before = _evaluate(data)
    assume(before.outcome in OPEN)
    after = _evaluate({**data, "requests_per_day": data["requests_per_day"] + extra})
    assert after.outcome != "proprietary_api"
    assert after.outcome in OPEN


@FAST
@given(data=payloads(avg_input_tokens=1500, must_stay_in_infrastructure=False))
def test_at_the_break_even_the_two_cost_totals_agree(data: dict[str, Any]) -> None:
    """Evaluated at its own break-even, self-hosted and API cost within 1%."""
    data["avg_output_tokens"] = data["avg_output_tokens"] or 500
    first = _evaluate(data)
    be = first.costs.break_even
    assume(be is not None and be.fully_loaded.requests_per_day is not None)
    assume(not be.fully_loaded.at_step_edge)
    at = _evaluate({**data, "requests_per_day": be.fully_loaded.requests_per_day})
    api, hosted = at.costs.api, at.costs.self_hosted
    assert hosted.monthly_cost == pytest.approx(api.monthly_cost, rel=0.01)


@FAST
@given(data=payloads())
def test_it_is_deterministic_for_any_inputs(data: dict[str, Any]) -> None:
    """Two evaluations of the same inputs serialise identically."""
    assert _evaluate(data).as_dict() == _evaluate(data).as_dict()
