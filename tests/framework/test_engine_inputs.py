"""Inputs.from_dict: validation with field errors for the API's 400 responses."""

from typing import Any

import pytest

from apps.framework.engine import InputError, Inputs, Workload


def _data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "data_classification": "internal",
        "special_categories": ["personal"],
        "must_stay_in_infrastructure": False,
        "requests_per_day": 50_000,
        "avg_input_tokens": 1500,
        "avg_output_tokens": 500,
        "peak_factor": 3,
        "workloads": [{"task_type": "summarisation", "share": 100}],
        "capability_need": "advanced",
        "context_tokens": 8000,
        "mlops_readiness": "established",
        "horizon": "production",
        "fine_tuning_data": False,
    }
    data.update(changes)
    return data


def _errors(**changes: Any) -> dict[str, list[str]]:
    with pytest.raises(InputError) as caught:
        Inputs.from_dict(_data(**changes))
    return caught.value.errors


def test_it_builds_frozen_inputs_with_the_design_field_names() -> None:
    """A valid payload becomes Inputs with the DESIGN §2 names and types."""
    inputs = Inputs.from_dict(_data())
    assert inputs.workloads == (Workload("summarisation", 100.0),)
    assert inputs.special_categories == frozenset({"personal"})
    assert inputs.context_needed == 8000
    assert inputs.token_profile_known
    with pytest.raises(AttributeError):
        inputs.requests_per_day = 1  # type: ignore[misc]


def test_it_round_trips_through_as_dict() -> None:
    """as_dict gives back a payload that builds the same Inputs."""
    inputs = Inputs.from_dict(_data())
    assert Inputs.from_dict(inputs.as_dict()) == inputs


def test_it_accepts_workloads_as_pairs_and_defaults_optional_fields() -> None:
    """[task_type, share] pairs work; optional fields take their defaults."""
    data = _data(workloads=[["classification", 85], ["reasoning", 15]])
    for name in ("special_categories", "peak_factor", "context_tokens"):
        del data[name]
    del data["fine_tuning_data"]
    inputs = Inputs.from_dict(data)
    assert [w.task_type for w in inputs.workloads] == ["classification", "reasoning"]
    assert inputs.peak_factor is None
    assert inputs.special_categories == frozenset()
    assert inputs.context_needed == 2000


def test_it_treats_null_token_counts_as_an_unknown_profile() -> None:
    """Null averages are allowed and mean the fixed volume thresholds apply."""
    inputs = Inputs.from_dict(_data(avg_input_tokens=None, avg_output_tokens=None))
    assert not inputs.token_profile_known


def test_it_reports_every_missing_field_at_once() -> None:
    """An empty payload names each required field."""
    with pytest.raises(InputError) as caught:
        Inputs.from_dict({})
    assert set(caught.value.errors) == {
        "data_classification",
        "must_stay_in_infrastructure",
        "requests_per_day",
        "avg_input_tokens",
        "avg_output_tokens",
        "workloads",
        "capability_need",
        "mlops_readiness",
        "horizon",
    }
    assert caught.value.errors["horizon"] == ["This field is required."]


def test_it_rejects_negative_volume() -> None:
    """Requests a day cannot be below zero."""
    assert _errors(requests_per_day=-1) == {"requests_per_day": ["Must be at least 0."]}


def test_it_rejects_unknown_enum_values_naming_the_choices() -> None:
    """Unknown classification, tier, readiness, horizon and category all fail."""
    errors = _errors(
        data_classification="secret",
        capability_need="genius",
        mlops_readiness="some",
        horizon="forever",
        special_categories=["health", "biometric"],
    )
    assert set(errors) == {
        "data_classification",
        "capability_need",
        "mlops_readiness",
        "horizon",
        "special_categories",
    }
    assert (
        "public, internal, confidential, restricted" in errors["data_classification"][0]
    )


def test_it_rejects_an_unknown_task_type() -> None:
    """A task type outside the DESIGN list is a workloads error."""
    errors = _errors(workloads=[{"task_type": "poetry", "share": 100}])
    assert "Unknown task type 'poetry'" in errors["workloads"][0]


def test_it_rejects_shares_that_do_not_sum_to_one_hundred() -> None:
    """Shares are percentages of the use-case's requests and must add up."""
    errors = _errors(
        workloads=[
            {"task_type": "classification", "share": 80},
            {"task_type": "reasoning", "share": 15},
        ]
    )
    assert errors == {"workloads": ["Shares must sum to 100; they sum to 95."]}


def test_it_allows_shares_rounded_to_two_decimals() -> None:
    """Three thirds entered as 33.33 are accepted."""
    thirds = [
        {"task_type": t, "share": 33.33}
        for t in ("classification", "extraction", "formatting")
    ]
    assert len(Inputs.from_dict(_data(workloads=thirds)).workloads) == 3


@pytest.mark.parametrize(
    ("workloads", "fragment"),
    [
        ([], "At least one workload"),
        ("classification", "Must be a list"),
        ([{"task_type": "classification", "share": 0}], "greater than 0"),
        ([{"task_type": "classification", "share": "all"}], "Must be a number"),
        (
            [
                {"task_type": "classification", "share": 50},
                {"task_type": "classification", "share": 50},
            ],
            "listed twice",
        ),
    ],
)
def test_it_rejects_malformed_workloads(workloads: Any, fragment: str) -> None:
    """Empty, non-list, zero, non-numeric and duplicate workloads fail clearly."""
    assert fragment in " ".join(_errors(workloads=workloads)["workloads"])


def test_it_rejects_wrong_types_without_coercing() -> None:
    """Strings for booleans and numbers, and a peak factor below 1, fail."""
    errors = _errors(
        must_stay_in_infrastructure="no",
        avg_input_tokens="1500",
        peak_factor=0.5,
        context_tokens=10.5,
        requests_per_day=True,
    )
    assert errors == {
        "must_stay_in_infrastructure": ["Must be true or false."],
        "avg_input_tokens": ["Must be a number."],
        "peak_factor": ["Must be at least 1."],
        "context_tokens": ["Must be a whole number."],
        "requests_per_day": ["Must be a number."],
    }


def test_it_rejects_a_payload_that_is_not_an_object() -> None:
    """A list body is a non-field error."""
    with pytest.raises(InputError) as caught:
        Inputs.from_dict([])  # type: ignore[arg-type]
    assert caught.value.errors == {"non_field_errors": ["Expected an object."]}
