"""Prometheus increase() semantics for scraped counters."""

from __future__ import annotations

import math

import pytest

from apps.endpoints.counters import counter_delta


def test_it_treats_the_first_observation_as_a_baseline() -> None:
    assert counter_delta(None, 27453.0) == 0.0


def test_it_counts_an_increase() -> None:
    assert counter_delta(100.0, 130.0) == 30.0


def test_it_counts_no_change_as_zero() -> None:
    assert counter_delta(130.0, 130.0) == 0.0


def test_it_counts_the_new_value_in_full_after_a_reset() -> None:
    assert counter_delta(27453.0, 12.0) == 12.0


def test_it_counts_a_reset_to_zero_as_zero() -> None:
    assert counter_delta(500.0, 0.0) == 0.0


def test_it_counts_in_full_after_a_known_restart_that_passed_the_old_value() -> None:
    assert counter_delta(100.0, 150.0, restarted=True) == 150.0


def test_it_sums_to_the_true_total_over_a_series_with_restarts() -> None:
    scrapes = [10.0, 25.0, 40.0, 5.0, 30.0, 31.0, 2.0]
    previous = None
    total = 0.0
    for value in scrapes:
        total += counter_delta(previous, value)
        previous = value
    # 15 + 15 + (restart) 5 + 25 + 1 + (restart) 2
    assert total == 63.0


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_it_rejects_values_no_counter_can_report(bad: float) -> None:
    with pytest.raises(ValueError):
        counter_delta(1.0, bad)
    with pytest.raises(ValueError):
        counter_delta(bad, 1.0)
