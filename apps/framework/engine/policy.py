"""The versioned framework policy: thresholds and cost assumptions platform edits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from .types import (
    DATA_CLASSIFICATIONS,
    MLOPS_READINESS,
    SPECIAL_CATEGORIES,
    FieldReader,
    InputError,
)


@dataclass(frozen=True, slots=True)
class OpsAssumptions:
    """The numbers the cost model needs beyond prices, resolved for one use-case."""

    days_per_month: float
    hours_per_month: float
    gpu_overhead: float
    ops_fte_share: float
    loaded_fte_cost: float
    setup_cost: float
    amortisation_months: int
    min_replicas: int
    target_utilisation: float
    slo_ttft_seconds: float
    slo_tpot_seconds: float

    @property
    def ops_monthly_cost(self) -> float:
        return self.ops_fte_share * self.loaded_fte_cost / 12

    @property
    def setup_monthly_cost(self) -> float:
        return self.setup_cost / self.amortisation_months


@dataclass(frozen=True, slots=True)
class Policy:
    """Thresholds and assumptions of the framework; stored as JSON and versioned.

    Defaults follow the seed article and reference/cost-model.md §3 (scenario A).
    """

    version: str = "2026-11-25.1"
    volume_low: int = 10_000
    volume_high: int = 50_000
    categories_that_may_not_leave: tuple[str, ...] = (
        "government",
        "health",
        "indigenous",
    )
    classifications_that_may_not_leave: tuple[str, ...] = ("restricted",)
    # Above this, only the long-context proprietary models are realistic.
    very_large_context_tokens: int = 128_000
    # Relative distance to the break-even within which volume is a close call.
    close_call_margin: float = 0.15
    peak_factor_default: float = 3.0
    target_utilisation: float = 0.6
    min_replicas: int = 2
    gpu_overhead: float = 0.10
    ops_fte_share: float = 0.25
    # Without ML-ops capability self-hosting is forced only by data governance and
    # then needs more hands (reference/cost-model.md §2.6, step 4).
    ops_fte_share_without_mlops: float = 0.5
    loaded_fte_cost: float = 180_000.0
    setup_cost: float = 0.0
    horizon_months_experiment: int = 6
    horizon_months_production: int = 24
    horizon_months_core: int = 36
    days_per_month: float = 30.42
    hours_per_month: float = 730.0
    slo_ttft_seconds: float = 2.0
    slo_tpot_seconds: float = 0.05

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Policy:
        """Build from stored JSON; missing keys take the defaults, unknown ones fail."""
        if not isinstance(data, Mapping):
            raise InputError({"non_field_errors": ["Expected an object."]})
        read = FieldReader(data)
        known = {f.name for f in fields(cls)}
        for name in sorted(set(data) - known):
            read.add(name, "Unknown policy setting.")
        default = DEFAULT_POLICY
        values: dict[str, Any] = {"version": read.text("version", default.version)}
        values["categories_that_may_not_leave"] = _choices(
            read, "categories_that_may_not_leave", SPECIAL_CATEGORIES
        )
        values["classifications_that_may_not_leave"] = _choices(
            read, "classifications_that_may_not_leave", DATA_CLASSIFICATIONS
        )
        for name, spec in _NUMBERS.items():
            values[name] = read.number(name, getattr(default, name), **spec)
        if (
            not read.errors
            and values["volume_low"] is not None
            and values["volume_low"] > values["volume_high"]
        ):
            read.add("volume_low", "Must not exceed volume_high.")
        read.raise_if_errors()
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in (
            "categories_that_may_not_leave",
            "classifications_that_may_not_leave",
        ):
            data[name] = list(data[name])
        return data

    def horizon_months(self, horizon: str) -> int:
        return {
            "experiment": self.horizon_months_experiment,
            "production": self.horizon_months_production,
            "core": self.horizon_months_core,
        }[horizon]

    def assumptions(self, *, mlops_readiness: str, horizon: str) -> OpsAssumptions:
        """Resolve the cost assumptions for a use-case's readiness and horizon."""
        if mlops_readiness not in MLOPS_READINESS:
            raise ValueError(f"unknown mlops_readiness {mlops_readiness!r}")
        fte = (
            self.ops_fte_share_without_mlops
            if mlops_readiness == "none"
            else self.ops_fte_share
        )
        return OpsAssumptions(
            days_per_month=self.days_per_month,
            hours_per_month=self.hours_per_month,
            gpu_overhead=self.gpu_overhead,
            ops_fte_share=fte,
            loaded_fte_cost=self.loaded_fte_cost,
            setup_cost=self.setup_cost,
            amortisation_months=self.horizon_months(horizon),
            min_replicas=self.min_replicas,
            target_utilisation=self.target_utilisation,
            slo_ttft_seconds=self.slo_ttft_seconds,
            slo_tpot_seconds=self.slo_tpot_seconds,
        )


def _choices(read: FieldReader, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    value = read.raw(name, list(getattr(DEFAULT_POLICY, name)))
    if isinstance(value, str) or not isinstance(value, list | tuple):
        read.add(name, "Must be a list.")
        return ()
    for item in value:
        if item not in allowed:
            read.add(name, f"{item!r} is not one of {', '.join(allowed)}.")
    return tuple(sorted({str(v) for v in value if v in allowed}))


_POSITIVE = {"minimum": 0, "exclusive_minimum": True}
_NUMBERS: dict[str, dict[str, Any]] = {
    "volume_low": {"integer": True},
    "volume_high": {"integer": True},
    "very_large_context_tokens": {"integer": True},
    "close_call_margin": {"maximum": 1},
    "peak_factor_default": {"minimum": 1},
    "target_utilisation": {**_POSITIVE, "maximum": 1},
    "min_replicas": {"integer": True, "minimum": 1},
    "gpu_overhead": {},
    "ops_fte_share": {},
    "ops_fte_share_without_mlops": {},
    "loaded_fte_cost": {},
    "setup_cost": {},
    "horizon_months_experiment": {"integer": True, "minimum": 1},
    "horizon_months_production": {"integer": True, "minimum": 1},
    "horizon_months_core": {"integer": True, "minimum": 1},
    "days_per_month": _POSITIVE,
    "hours_per_month": _POSITIVE,
    "slo_ttft_seconds": _POSITIVE,
    "slo_tpot_seconds": _POSITIVE,
}

DEFAULT_POLICY = Policy()
