"""Prometheus ``increase()`` semantics for cumulative counters, in pure Python.

A scraped counter only ever grows, until the process behind it restarts and it
starts again from zero. Between two scrapes of the same series:

- the first observation is a baseline: nothing is known about what came before;
- a higher value is an increase of the difference;
- a lower value is a reset, and the new value counts in full (what was served
  between the last scrape and the restart is lost, as in Prometheus).
"""

from __future__ import annotations

import math

__all__ = ["counter_delta"]


def counter_delta(
    previous: float | None, current: float, *, restarted: bool = False
) -> float:
    """Return how much a counter grew from ``previous`` to ``current``.

    ``previous`` is None on the first observation of a series, which yields 0.
    ``restarted`` says the process behind the counter is known to have restarted
    since ``previous`` (its ``_created`` time changed), which catches a restart
    followed by enough traffic to pass the old value; the new value then counts in
    full. Raises ``ValueError`` for a negative or non-finite value, which no
    counter can report.
    """
    for value in (previous, current):
        if value is not None and (not math.isfinite(value) or value < 0):
            raise ValueError(f"A counter cannot read {value!r}.")
    if previous is None:
        return 0.0
    if restarted or current < previous:
        return float(current)
    return float(current - previous)
