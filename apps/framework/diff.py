"""What changed between two assessments: inputs, outcome, costs, steps, provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .models import Assessment, Outcome

STEP_TITLES = {
    "data_governance": "Data governance",
    "volume": "Volume",
    "task_complexity": "Task complexity",
    "operational_readiness": "Operational readiness",
    "strategic_timeline": "Strategic timeline",
}
OPTION_TITLES = {
    "proprietary_api": "Proprietary API",
    "open_source_managed": "Managed open-source",
    "open_source_self_hosted": "Self-hosted",
}


@dataclass(frozen=True)
class Change:
    label: str
    old: Any
    new: Any
    money: bool = False


@dataclass(frozen=True)
class AssessmentDiff:
    older: Assessment
    newer: Assessment
    outcome: Change | None
    inputs: list[Change] = field(default_factory=list)
    costs: list[Change] = field(default_factory=list)
    steps: list[Change] = field(default_factory=list)
    routing: list[Change] = field(default_factory=list)
    provenance: list[Change] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not any(
            (
                self.outcome,
                self.inputs,
                self.costs,
                self.steps,
                self.routing,
                self.provenance,
            )
        )


def _workloads(value: Any) -> str:
    return "; ".join(f"{w['share']:g}% {w['task_type']}" for w in value or [])


def _options(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["option"]: o for o in result.get("costs", {}).get("options", [])}


def diff_assessments(older: Assessment, newer: Assessment) -> AssessmentDiff:
    old, new = older.result, newer.result
    outcome = (
        Change(
            "Recommendation", Outcome(older.outcome).label, Outcome(newer.outcome).label
        )
        if older.outcome != newer.outcome
        else None
    )
    inputs = []
    for name in sorted(set(older.inputs) | set(newer.inputs)):
        a, b = older.inputs.get(name), newer.inputs.get(name)
        if a != b:
            if name == "workloads":
                a, b = _workloads(a), _workloads(b)
            inputs.append(Change(name.replace("_", " "), a, b))
    costs = []
    a_cost = old.get("costs", {}).get("recommended_monthly_cost")
    b_cost = new.get("costs", {}).get("recommended_monthly_cost")
    if a_cost != b_cost:
        costs.append(
            Change("Monthly cost of the recommendation", a_cost, b_cost, money=True)
        )
    a_opts, b_opts = _options(old), _options(new)
    for kind, title in OPTION_TITLES.items():
        a_opt, b_opt = a_opts.get(kind, {}), b_opts.get(kind, {})
        if a_opt.get("model_name") != b_opt.get("model_name"):
            costs.append(
                Change(
                    f"{title} candidate",
                    a_opt.get("model_name"),
                    b_opt.get("model_name"),
                )
            )
        if a_opt.get("monthly_cost") != b_opt.get("monthly_cost"):
            costs.append(
                Change(
                    f"{title} monthly cost",
                    a_opt.get("monthly_cost"),
                    b_opt.get("monthly_cost"),
                    money=True,
                )
            )
    a_be, b_be = old.get("break_even") or {}, new.get("break_even") or {}
    for key, label in (
        ("fully_loaded", "Break-even, fully loaded"),
        ("gpu_only", "Break-even, GPU only"),
    ):
        if a_be.get(key) != b_be.get(key):
            costs.append(
                Change(f"{label} (requests a day)", a_be.get(key), b_be.get(key))
            )
    steps = []
    a_steps = {s["step"]: s for s in old.get("steps", [])}
    for step in new.get("steps", []):
        before = a_steps.get(step["step"], {})
        if before.get("verdict") != step["verdict"]:
            steps.append(
                Change(
                    STEP_TITLES.get(step["step"], step["step"]),
                    before.get("verdict"),
                    step["verdict"],
                )
            )
    routing = []
    a_rules = {w["task_type"]: w["routing_rule"] for w in old.get("workloads", [])}
    b_rules = {w["task_type"]: w["routing_rule"] for w in new.get("workloads", [])}
    for task in sorted(set(a_rules) | set(b_rules)):
        if a_rules.get(task) != b_rules.get(task):
            routing.append(
                Change(task.replace("_", " "), a_rules.get(task), b_rules.get(task))
            )
    provenance = []
    if older.policy_version_id != newer.policy_version_id:
        provenance.append(Change("Policy", older.policy_label, newer.policy_label))
    if older.price_snapshot != newer.price_snapshot:
        provenance.append(Change("Prices", older.price_snapshot, newer.price_snapshot))
    return AssessmentDiff(
        older=older,
        newer=newer,
        outcome=outcome,
        inputs=inputs,
        costs=costs,
        steps=steps,
        routing=routing,
        provenance=provenance,
    )
