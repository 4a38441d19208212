"""Inputs, vocabularies and step results of the decision framework (pure Python)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

DATA_CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")
SPECIAL_CATEGORIES = ("personal", "health", "financial", "government", "indigenous")
CAPABILITY_TIERS = ("standard", "advanced", "frontier")
MLOPS_READINESS = ("none", "limited", "established")
HORIZONS = ("experiment", "production", "core")
TASK_COMPLEXITY: Mapping[str, str] = {
    "classification": "simple",
    "extraction": "simple",
    "formatting": "simple",
    "summarisation": "moderate",
    "analysis": "moderate",
    "structured_generation": "moderate",
    "code_generation": "moderate",
    "reasoning": "complex",
    "planning": "complex",
    "creative_generation": "complex",
}
TASK_TYPES = tuple(TASK_COMPLEXITY)
COMPLEXITIES = ("simple", "moderate", "complex")
OUTCOMES = (
    "open_source_self_hosted",
    "open_source_managed",
    "proprietary_api",
    "hybrid",
)
OPEN_OUTCOMES = ("open_source_self_hosted", "open_source_managed")
STEPS = (
    "data_governance",
    "volume",
    "task_complexity",
    "operational_readiness",
    "strategic_timeline",
)
TIER_RANK: Mapping[str, int] = {tier: i for i, tier in enumerate(CAPABILITY_TIERS)}
# Shares are percentages entered by people; allow rounding such as 3 x 33.33.
SHARE_TOLERANCE = 0.01

Errors = dict[str, list[str]]
Number = int | float


class InputError(ValueError):
    """Invalid input, with every problem listed per field name."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors: Errors = {name: list(msgs) for name, msgs in errors.items()}
        super().__init__(
            "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in self.errors.items())
        )


class FieldReader:
    """Reads typed fields out of a JSON-like mapping, collecting errors by name."""

    def __init__(self, data: Mapping[str, Any], prefix: str = "") -> None:
        self.data = data
        self.prefix = prefix
        self.errors: Errors = {}

    def add(self, name: str, message: str) -> None:
        self.errors.setdefault(self.prefix + name, []).append(message)

    def raw(self, name: str, default: Any = ..., *, nullable: bool = False) -> Any:
        if name not in self.data:
            if default is ...:
                self.add(name, "This field is required.")
            return None if default is ... else default
        value = self.data[name]
        if value is None and not nullable:
            self.add(name, "This field may not be null.")
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: Any = ...) -> str:
        value = self.raw(name, default)
        if value is None:
            return ""
        if value not in choices:
            self.add(name, f"{value!r} is not one of {', '.join(choices)}.")
            return ""
        return str(value)

    def boolean(self, name: str, default: Any = ...) -> bool:
        value = self.raw(name, default)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.add(name, "Must be true or false.")
            return False
        return value

    def number(
        self,
        name: str,
        default: Any = ...,
        *,
        minimum: float | None = 0,
        maximum: float | None = None,
        integer: bool = False,
        nullable: bool = False,
        exclusive_minimum: bool = False,
    ) -> Any:
        value = self.raw(name, default, nullable=nullable)
        if value is None:
            return None
        return self.check_number(
            name,
            value,
            minimum=minimum,
            maximum=maximum,
            integer=integer,
            exclusive_minimum=exclusive_minimum,
        )

    def check_number(
        self,
        name: str,
        value: Any,
        *,
        minimum: float | None = 0,
        maximum: float | None = None,
        integer: bool = False,
        exclusive_minimum: bool = False,
    ) -> Number | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(name, "Must be a number.")
            return None
        if not math.isfinite(value):
            self.add(name, "Must be a finite number.")
            return None
        if integer and value != int(value):
            self.add(name, "Must be a whole number.")
            return None
        if minimum is not None:
            if exclusive_minimum and value <= minimum:
                self.add(name, f"Must be greater than {minimum:g}.")
                return None
            if value < minimum:
                self.add(name, f"Must be at least {minimum:g}.")
                return None
        if maximum is not None and value > maximum:
            self.add(name, f"Must be at most {maximum:g}.")
            return None
        return int(value) if integer else value

    def text(self, name: str, default: Any = ..., *, nullable: bool = False) -> Any:
        value = self.raw(name, default, nullable=nullable)
        if value is None:
            return None
        if not isinstance(value, str) or (not value and default is ...):
            self.add(name, "Must be a non-empty string.")
            return ""
        return value

    def raise_if_errors(self) -> None:
        if self.errors:
            raise InputError(self.errors)


@dataclass(frozen=True, slots=True)
class Workload:
    """A share of a use-case's requests with one task type."""

    task_type: str
    share: float

    @property
    def complexity(self) -> str:
        return TASK_COMPLEXITY[self.task_type]

    def as_dict(self) -> dict[str, Any]:
        return {"task_type": self.task_type, "share": self.share}


@dataclass(frozen=True, slots=True)
class Inputs:
    """Everything the framework needs about one use-case (DESIGN §2 names).

    ``avg_input_tokens``/``avg_output_tokens`` of ``None`` mean the token profile is
    unknown, so the volume step falls back to the policy's fixed thresholds.
    ``peak_factor`` of ``None`` takes the policy default. ``cached_input_share``
    and ``batch_share`` (0-1) price prompt-cache hits and Batch-API traffic.
    """

    data_classification: str
    must_stay_in_infrastructure: bool
    requests_per_day: float
    avg_input_tokens: float | None
    avg_output_tokens: float | None
    workloads: tuple[Workload, ...]
    capability_need: str
    mlops_readiness: str
    horizon: str
    special_categories: frozenset[str] = frozenset()
    peak_factor: float | None = None
    context_tokens: int = 0
    fine_tuning_data: bool = False
    cached_input_share: float = 0.0
    batch_share: float = 0.0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Inputs:
        """Validate a JSON-like mapping; raise InputError listing every bad field."""
        if not isinstance(data, Mapping):
            raise InputError({"non_field_errors": ["Expected an object."]})
        read = FieldReader(data)
        classification = read.choice("data_classification", DATA_CLASSIFICATIONS)
        categories = _read_categories(read)
        must_stay = read.boolean("must_stay_in_infrastructure")
        requests = read.number("requests_per_day")
        tokens_in = read.number("avg_input_tokens", nullable=True)
        tokens_out = read.number("avg_output_tokens", nullable=True)
        peak = read.number("peak_factor", None, minimum=1, nullable=True)
        workloads = _read_workloads(read)
        need = read.choice("capability_need", CAPABILITY_TIERS)
        context = read.number("context_tokens", 0, integer=True, nullable=True)
        readiness = read.choice("mlops_readiness", MLOPS_READINESS)
        horizon = read.choice("horizon", HORIZONS)
        fine_tuning = read.boolean("fine_tuning_data", False)
        cached = read.number("cached_input_share", 0.0, maximum=1)
        batch = read.number("batch_share", 0.0, maximum=1)
        read.raise_if_errors()
        return cls(
            data_classification=classification,
            special_categories=categories,
            must_stay_in_infrastructure=must_stay,
            requests_per_day=requests,
            avg_input_tokens=tokens_in,
            avg_output_tokens=tokens_out,
            peak_factor=peak,
            workloads=workloads,
            capability_need=need,
            context_tokens=context or 0,
            mlops_readiness=readiness,
            horizon=horizon,
            fine_tuning_data=fine_tuning,
            cached_input_share=cached,
            batch_share=batch,
        )

    @property
    def token_profile_known(self) -> bool:
        return (
            self.avg_input_tokens is not None
            and self.avg_output_tokens is not None
            and self.avg_input_tokens + self.avg_output_tokens > 0
        )

    @property
    def context_needed(self) -> int:
        """Largest context a model must hold: the stated need or one request."""
        per_request = (self.avg_input_tokens or 0) + (self.avg_output_tokens or 0)
        return max(self.context_tokens, math.ceil(per_request))

    def as_dict(self) -> dict[str, Any]:
        return {
            "data_classification": self.data_classification,
            "special_categories": sorted(self.special_categories),
            "must_stay_in_infrastructure": self.must_stay_in_infrastructure,
            "requests_per_day": self.requests_per_day,
            "avg_input_tokens": self.avg_input_tokens,
            "avg_output_tokens": self.avg_output_tokens,
            "peak_factor": self.peak_factor,
            "workloads": [w.as_dict() for w in self.workloads],
            "capability_need": self.capability_need,
            "context_tokens": self.context_tokens,
            "mlops_readiness": self.mlops_readiness,
            "horizon": self.horizon,
            "fine_tuning_data": self.fine_tuning_data,
            "cached_input_share": self.cached_input_share,
            "batch_share": self.batch_share,
        }


def _read_categories(read: FieldReader) -> frozenset[str]:
    value = read.raw("special_categories", [])
    if value is None:
        return frozenset()
    if isinstance(value, str) or not isinstance(value, list | tuple | set | frozenset):
        read.add("special_categories", "Must be a list.")
        return frozenset()
    unknown = sorted(str(v) for v in value if v not in SPECIAL_CATEGORIES)
    for name in unknown:
        read.add(
            "special_categories",
            f"{name!r} is not one of {', '.join(SPECIAL_CATEGORIES)}.",
        )
    return frozenset(v for v in value if v in SPECIAL_CATEGORIES)


def _read_workloads(read: FieldReader) -> tuple[Workload, ...]:
    value = read.raw("workloads")
    if value is None:
        return ()
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
        read.add("workloads", "Must be a list of {task_type, share}.")
        return ()
    if not value:
        read.add("workloads", "At least one workload is required.")
        return ()
    workloads: list[Workload] = []
    seen: set[str] = set()
    total = 0.0
    valid = True
    for item in value:
        if isinstance(item, Mapping):
            task_type, share = item.get("task_type"), item.get("share")
        elif isinstance(item, list | tuple) and len(item) == 2:
            task_type, share = item
        else:
            read.add("workloads", "Each workload needs a task_type and a share.")
            valid = False
            continue
        if not isinstance(task_type, str) or task_type not in TASK_COMPLEXITY:
            read.add(
                "workloads",
                f"Unknown task type {task_type!r}; use one of {', '.join(TASK_TYPES)}.",
            )
            valid = False
        elif task_type in seen:
            read.add("workloads", f"Task type {task_type!r} is listed twice.")
            valid = False
        else:
            seen.add(task_type)
        checked = read.check_number(
            "workloads", share, minimum=0, maximum=100, exclusive_minimum=True
        )
        if checked is None:
            valid = False
            continue
        total += checked
        if valid:
            workloads.append(Workload(task_type=str(task_type), share=float(checked)))
    if valid and abs(total - 100) > SHARE_TOLERANCE + 1e-9:
        read.add("workloads", f"Shares must sum to 100; they sum to {total:g}.")
    return tuple(workloads)


class StepResult:
    """One step's verdict, explained in words with the numbers it used.

    ``lean`` is positive towards open models, negative towards proprietary APIs.
    ``decided`` marks a step that settles the outcome on its own (data governance).
    ``rationale`` may be given as a function: the words are then written the
    first time someone reads them, because most evaluations (the planner, the
    re-assessment sweep) only need the verdicts and numbers.
    """

    __slots__ = (
        "_rationale",
        "close_call",
        "decided",
        "lean",
        "numbers",
        "step",
        "verdict",
        "warnings",
    )
    step: str
    verdict: str
    lean: int
    decided: bool
    close_call: bool
    numbers: Mapping[str, Any]
    warnings: tuple[str, ...]

    def __init__(
        self,
        *,
        step: str,
        verdict: str,
        rationale: str | Callable[[], str],
        lean: int = 0,
        decided: bool = False,
        close_call: bool = False,
        numbers: Mapping[str, Any] | None = None,
        warnings: tuple[str, ...] = (),
    ) -> None:
        setter = object.__setattr__
        setter(self, "step", step)
        setter(self, "verdict", verdict)
        setter(self, "_rationale", rationale)
        setter(self, "lean", lean)
        setter(self, "decided", decided)
        setter(self, "close_call", close_call)
        setter(self, "numbers", {} if numbers is None else numbers)
        setter(self, "warnings", warnings)

    @property
    def rationale(self) -> str:
        text = self._rationale
        if not isinstance(text, str):
            text = text()
            object.__setattr__(self, "_rationale", text)
        return text

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"StepResult is immutable ({name})")

    def _key(self) -> tuple[Any, ...]:
        return (
            self.step,
            self.verdict,
            self.rationale,
            self.lean,
            self.decided,
            self.close_call,
            dict(self.numbers),
            self.warnings,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StepResult):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # numbers is a mapping

    def __repr__(self) -> str:
        return f"StepResult(step={self.step!r}, verdict={self.verdict!r})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "verdict": self.verdict,
            "rationale": self.rationale,
            "lean": self.lean,
            "decided": self.decided,
            "close_call": self.close_call,
            "numbers": dict(self.numbers),
            "warnings": list(self.warnings),
        }
