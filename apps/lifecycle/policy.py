"""The lifecycle's policy knobs, read from settings (docs/lifecycle.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings


@dataclass(frozen=True)
class LifecyclePolicy:
    #: Models deprecated or retiring within this many days are flagged.
    horizon_days: int = 90
    #: Live traffic looked at by the conformance check (one collection cycle).
    conformance_window: timedelta = timedelta(minutes=15)
    #: Largest gap, in percentage points, between a target's share and its weight.
    split_tolerance_pct: float = 10.0
    #: Fewer requests than this in the window say nothing about a split.
    split_min_requests: int = 20
    #: Cases a candidate may fail beyond the incumbent's and still be adopted.
    regression_tolerance: int = 0


def current_policy() -> LifecyclePolicy:
    return LifecyclePolicy(
        horizon_days=int(getattr(settings, "LIFECYCLE_HORIZON_DAYS", 90)),
        conformance_window=timedelta(
            seconds=int(getattr(settings, "LIFECYCLE_CONFORMANCE_WINDOW_SECONDS", 900))
        ),
        split_tolerance_pct=float(
            getattr(settings, "LIFECYCLE_SPLIT_TOLERANCE_PCT", 10.0)
        ),
        split_min_requests=int(getattr(settings, "LIFECYCLE_SPLIT_MIN_REQUESTS", 20)),
        regression_tolerance=int(
            getattr(settings, "LIFECYCLE_REGRESSION_TOLERANCE", 0)
        ),
    )
