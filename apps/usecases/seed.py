"""Realistic demo use-cases in several lifecycle states, moved by the real services."""

from __future__ import annotations

from typing import Any

from apps.accounts.models import User

from . import lifecycle, services
from .models import UseCase

S = UseCase.Status

DEMO: list[dict[str, Any]] = [
    {
        "owner": "requester",
        "title": "Claims triage classifier",
        "description": "Reads each incoming claim and routes it to the right queue; "
        "flags the few that need an adjuster's judgement.",
        "data_classification": "internal",
        "special_categories": ["personal"],
        "requests_per_day": 120_000,
        "avg_input_tokens": 900,
        "avg_output_tokens": 20,
        "capability_need": "standard",
        "mlops_readiness": "established",
        "horizon": "core",
        "fine_tuning_data": True,
        "workloads": [("classification", 95), ("reasoning", 5)],
        "path": [S.SUBMITTED],
    },
    {
        "owner": "hana",
        "title": "Discharge summary drafting",
        "description": "Drafts a discharge summary from the clinical notes for a "
        "clinician to check and sign.",
        "data_classification": "restricted",
        "special_categories": ["health", "personal"],
        "requests_per_day": 8_000,
        "avg_input_tokens": 3_000,
        "avg_output_tokens": 600,
        "capability_need": "advanced",
        "mlops_readiness": "limited",
        "horizon": "production",
        "workloads": [("summarisation", 100)],
        "path": [S.SUBMITTED, S.IN_REVIEW],
    },
    {
        "owner": "fiona",
        "title": "Supplier contract clause extraction",
        "description": "Pulls renewal dates, liability caps and termination clauses "
        "out of supplier contracts into the contract register.",
        "data_classification": "confidential",
        "special_categories": ["financial"],
        "requests_per_day": 15_000,
        "avg_input_tokens": 2_500,
        "avg_output_tokens": 300,
        "capability_need": "standard",
        "mlops_readiness": "none",
        "horizon": "production",
        "workloads": [("extraction", 100)],
        "path": [S.SUBMITTED, S.IN_REVIEW, S.APPROVED],
    },
    {
        "owner": "devi",
        "title": "Campaign copy assistant",
        "description": "Suggests headlines and body copy variants for marketing "
        "campaigns from a short brief.",
        "data_classification": "public",
        "requests_per_day": 2_000,
        "avg_input_tokens": 400,
        "avg_output_tokens": 350,
        "capability_need": "advanced",
        "mlops_readiness": "none",
        "horizon": "experiment",
        "workloads": [("creative_generation", 100)],
        "path": [],
    },
    {
        "owner": "sam",
        "title": "Customer email router",
        "description": "Classifies inbound customer email by intent and urgency; "
        "drafts a reasoned reply for complaints.",
        "data_classification": "internal",
        "special_categories": ["personal"],
        "requests_per_day": 60_000,
        "avg_input_tokens": 1_500,
        "avg_output_tokens": 500,
        "capability_need": "standard",
        "mlops_readiness": "established",
        "horizon": "core",
        "workloads": [("classification", 85), ("reasoning", 15)],
        "path": [S.SUBMITTED, S.IN_REVIEW, S.APPROVED, S.LIVE],
    },
    {
        "owner": "tama",
        "title": "Iwi partnership insights",
        "description": "Summarises themes from partnership hui notes for the "
        "community partnerships team; data governed by Māori data sovereignty "
        "principles.",
        "data_classification": "restricted",
        "special_categories": ["indigenous"],
        "requests_per_day": 1_500,
        "avg_input_tokens": 4_000,
        "avg_output_tokens": 800,
        "capability_need": "advanced",
        "mlops_readiness": "none",
        "horizon": "core",
        "workloads": [("analysis", 100)],
        "path": [S.SUBMITTED, S.IN_REVIEW, S.CHANGES_REQUESTED],
    },
    {
        "owner": "devi",
        "title": "Pull-request review helper",
        "description": "Comments on pull requests with likely bugs and style issues.",
        "data_classification": "internal",
        "requests_per_day": 5_000,
        "avg_input_tokens": 6_000,
        "avg_output_tokens": 700,
        "capability_need": "advanced",
        "context_tokens": 64_000,
        "mlops_readiness": "limited",
        "horizon": "experiment",
        "workloads": [("code_generation", 100)],
        "path": [S.SUBMITTED, S.IN_REVIEW, S.REJECTED],
    },
    {
        "owner": "fiona",
        "title": "Monthly finance commentary",
        "description": "Explains the month's variances against budget for the "
        "executive finance pack.",
        "data_classification": "confidential",
        "special_categories": ["financial"],
        "requests_per_day": 300,
        "avg_input_tokens": 8_000,
        "avg_output_tokens": 1_200,
        "capability_need": "frontier",
        "context_tokens": 120_000,
        "mlops_readiness": "none",
        "horizon": "production",
        "workloads": [("reasoning", 100)],
        "path": [S.SUBMITTED],
    },
]


def seed(users: dict[str, User]) -> list[UseCase]:
    created = []
    for spec in DEMO:
        spec = dict(spec)
        owner = users[spec.pop("owner")]
        path = spec.pop("path")
        workloads = [
            {"task_type": t, "share": share, "notes": ""}
            for t, share in spec.pop("workloads")
        ]
        if UseCase.objects.filter(title=spec["title"]).exists():
            continue
        use_case = services.save_use_case(
            fields={**spec, "team": owner.team}, workloads=workloads, by=owner
        )
        for status in path:
            actor = owner
            if status in (S.IN_REVIEW, S.APPROVED, S.REJECTED, S.CHANGES_REQUESTED):
                actor = users["board"]
            comment = {
                S.CHANGES_REQUESTED: "Please describe who approved the use of this "
                "data and how the iwi partners will review outputs.",
                S.REJECTED: "Code leaves our infrastructure; revisit with a "
                "self-hosted code model.",
            }.get(status, "")
            if status in lifecycle.DECISION_OUTCOMES:
                # The reviews seed attaches a Decision to each decided transition.
                services.record_decision_outcome(
                    use_case=use_case, outcome=status, by=actor, comment=comment
                )
            else:
                services.transition_use_case(
                    use_case=use_case, to_status=status, by=actor, comment=comment
                )
        created.append(use_case)
    return created


def seed_demo(context: dict) -> None:
    seed(context["users"])
