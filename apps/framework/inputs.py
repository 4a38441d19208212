"""Engine inputs from a stored use-case or from the intake form as it is being typed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apps.usecases.models import UseCase

from .engine import InputError, Inputs

FIELD_LABELS = {
    "data_classification": "the data classification",
    "special_categories": "the special categories",
    "must_stay_in_infrastructure": "whether the data must stay in-house",
    "requests_per_day": "requests a day",
    "avg_input_tokens": "input tokens a request",
    "avg_output_tokens": "output tokens a request",
    "peak_factor": "the peak factor",
    "workloads": "the workloads (task type and share)",
    "capability_need": "the capability needed",
    "context_tokens": "the largest context",
    "mlops_readiness": "ML-ops readiness",
    "horizon": "the horizon",
    "fine_tuning_data": "fine-tuning data",
}
REQUIRED = "This field is required."
TRUE_VALUES = {"on", "true", "1", "yes"}
MAX_WORKLOAD_ROWS = 10


def inputs_data_for_use_case(use_case: UseCase) -> dict[str, Any]:
    """The engine-shaped inputs of a stored use-case (uses prefetched workloads)."""
    return {
        "data_classification": use_case.data_classification,
        "special_categories": sorted(use_case.special_categories or []),
        "must_stay_in_infrastructure": use_case.must_stay_in_infrastructure,
        "requests_per_day": use_case.requests_per_day,
        "avg_input_tokens": use_case.avg_input_tokens,
        "avg_output_tokens": use_case.avg_output_tokens,
        "peak_factor": float(use_case.peak_factor)
        if use_case.peak_factor is not None
        else None,
        "workloads": [
            {"task_type": w.task_type, "share": w.share}
            for w in use_case.workloads.all()
        ],
        "capability_need": use_case.capability_need,
        "context_tokens": use_case.context_tokens,
        "mlops_readiness": use_case.mlops_readiness,
        "horizon": use_case.horizon,
        "fine_tuning_data": use_case.fine_tuning_data,
    }


def inputs_for_use_case(use_case: UseCase) -> Inputs:
    """Validated engine inputs; raises InputError (e.g. a draft without workloads)."""
    return Inputs.from_dict(inputs_data_for_use_case(use_case))


def _number(value: str) -> int | float | str:
    text = value.strip().replace(",", "").replace("_", "")
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return value  # the engine names the field: "Must be a number."


def inputs_data_from_form(data: Mapping[str, Any]) -> dict[str, Any]:
    """Engine-shaped inputs from the intake form's POST (field names as UseCaseForm).

    Blank fields are left out so the engine reports them as required.
    """
    getlist = getattr(data, "getlist", None)

    def text(name: str) -> str:
        return str(data.get(name) or "").strip()

    result: dict[str, Any] = {}
    for name in (
        "data_classification",
        "capability_need",
        "mlops_readiness",
        "horizon",
    ):
        if text(name):
            result[name] = text(name)
    categories = (
        getlist("special_categories") if getlist else data.get("special_categories", [])
    )
    result["special_categories"] = [c for c in categories or [] if c]
    for name in ("must_stay_in_infrastructure", "fine_tuning_data"):
        result[name] = text(name).lower() in TRUE_VALUES
    for name in ("requests_per_day", "avg_input_tokens", "avg_output_tokens"):
        if text(name):
            result[name] = _number(text(name))
    for name in ("peak_factor", "context_tokens"):
        if text(name):
            result[name] = _number(text(name))
    try:
        rows = min(int(text("workloads-TOTAL_FORMS") or 0), MAX_WORKLOAD_ROWS)
    except ValueError:
        rows = 0
    workloads = []
    for i in range(max(rows, 0)):
        task_type = text(f"workloads-{i}-task_type")
        share = text(f"workloads-{i}-share")
        if not task_type:  # a row still being filled in (the share has a default)
            continue
        workloads.append(
            {"task_type": task_type, "share": _number(share) if share else None}
        )
    if workloads:
        result["workloads"] = workloads
    return result


def split_errors(exc: InputError) -> tuple[list[str], dict[str, list[str]]]:
    """Missing fields (as labels, for "fill in ...") and the other errors by label."""
    missing: list[str] = []
    errors: dict[str, list[str]] = {}
    for name, messages in exc.errors.items():
        label = FIELD_LABELS.get(name, name.replace("_", " "))
        others = [m for m in messages if m != REQUIRED]
        if len(others) < len(messages):
            missing.append(label)
        if others:
            errors[label] = others
    return missing, errors
