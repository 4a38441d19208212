"""Demo risk assessments for the seeded use-cases with sensitive data."""

from __future__ import annotations

from typing import Any

from apps.usecases.models import UseCase

from . import rules, services
from .models import RiskAssessment

ANSWERS: dict[str, dict[str, Any]] = {
    "Discharge summary drafting": {
        "charter_likelihood": "occasional",
        "charter_impact": "high",
        "transparency": ["generates_content"],
        "pia_reference": "PIA-2026-031 (Health NZ template)",
        "impact_assessment_reference": "AIA-2026-004",
        "data_provenance": "Clinical notes from the ward system; no free-text copies.",
        "monitoring_plan": "Every draft signed off by a clinician; monthly sample audit.",
    },
    "Claims triage classifier": {
        "charter_likelihood": "improbable",
        "charter_impact": "moderate",
        "pia_reference": "PIA-2026-017",
        "monitoring_plan": "Weekly misroute report reviewed by the claims lead.",
    },
    "Iwi partnership insights": {
        "charter_likelihood": "occasional",
        "charter_impact": "moderate",
        "sovereignty": {
            "rangatiratanga": "The iwi data governance group decides on each use.",
            "whakapapa": "Source survey and consent kept with every record.",
            "whanaungatanga": "Summaries returned to the iwi before internal use.",
            "kotahitanga": "Two iwi analysts on the project team.",
            "manaakitanga": "No individual-level outputs leave the project.",
            "kaitiakitanga": "The kaitiaki group reviews each release.",
        },
        "sovereignty_evidence": {
            "authority_holder": "Iwi data governance group",
            "agreement_reference": "Draft DSA 2026-09 (awaiting signature)",
            "data_hosting": "in_house",
            "model_hosting": "in_house",
            "kaitiaki_reviewer": "Kaitiaki group chair",
        },
    },
}


def seed_demo(context: dict) -> None:
    version, policy = services.current_policy()
    for title, answers in ANSWERS.items():
        use_case = UseCase.objects.filter(title=title).first()
        if use_case is None or use_case.risk_assessments.exists():
            continue
        parsed = rules.Answers.from_dict(answers)
        profile = services.profile_for(use_case)
        if rules.validate(parsed, profile, policy=policy):
            continue  # the demo profile changed: leave it unanswered
        result = rules.evaluate(parsed, profile, policy=policy)
        # Written directly: the seed's history already moved past the owner's turn.
        RiskAssessment.objects.create(
            use_case=use_case,
            number=1,
            answers=parsed.as_dict(),
            result=result.as_dict(),
            eu_ai_act_tier=result.eu_ai_act_tier,
            charter_risk=result.charter_risk,
            pia_required=result.pia_required,
            policy_version=version,
            created_by=use_case.owner,
        )
        if use_case.status in services.UNDER_REVIEW:
            services.open_stages(use_case=use_case)
