"""The risk rules from fixed answers; expected values written out by hand."""

from __future__ import annotations

import pytest

from apps.risk.rules import (
    Answers,
    Profile,
    RiskPolicy,
    charter_risk,
    eu_ai_act_tier,
    evaluate,
    required_stages,
    validate,
)

COMPLETE_SOVEREIGNTY = {
    "sovereignty": {
        "rangatiratanga": "The iwi authority decides on access.",
        "whakapapa": "Provenance recorded per record.",
        "whanaungatanga": "Benefits reported back to the iwi.",
        "kotahitanga": "Capability built with iwi analysts.",
        "manaakitanga": "Dignity review of outputs.",
        "kaitiakitanga": "Kaitiaki reviewer signs off each release.",
    },
    "sovereignty_evidence": {
        "authority_holder": "Te Rūnanga o Example",
        "agreement_reference": "DSA-2026-014",
        "data_hosting": "in_house",
        "model_hosting": "aotearoa",
        "kaitiaki_reviewer": "Aroha Example",
    },
}


def test_it_finds_a_prohibited_practice_before_anything_else():
    tier = eu_ai_act_tier(
        Answers(
            prohibited_practices=("social_scoring",),
            high_risk_areas=("employment",),
            transparency=("interacts_with_people",),
        )
    )
    assert tier.value == "prohibited"
    assert "social scoring" in tier.reason
    assert "cannot be approved" in tier.reason


@pytest.mark.parametrize(
    "area",
    [
        "employment",
        "credit_insurance",
        "education",
        "essential_public_services",
        "law_enforcement",
        "migration",
        "justice",
        "biometrics",
        "critical_infrastructure",
    ],
)
def test_each_annex_iii_area_is_high_risk(area):
    tier = eu_ai_act_tier(
        Answers(high_risk_areas=(area,), transparency=("deep_fakes",))
    )
    assert tier.value == "high"
    assert "Annex III" in tier.reason


def test_a_chatbot_has_transparency_duties():
    tier = eu_ai_act_tier(Answers(transparency=("interacts_with_people",)))
    assert tier.value == "limited"
    assert "Art. 50(1)" in tier.reason


def test_nothing_declared_is_minimal():
    tier = eu_ai_act_tier(Answers())
    assert tier.value == "minimal"
    assert tier.reason.startswith("Minimal risk")


@pytest.mark.parametrize(
    ("likelihood", "impact", "expected", "application"),
    [
        ("improbable", "low", "low", "could"),
        ("improbable", "moderate", "low", "could"),
        ("improbable", "high", "moderate", "should"),
        ("occasional", "low", "low", "could"),
        ("occasional", "moderate", "moderate", "should"),
        ("occasional", "high", "high", "must"),
        ("probable", "low", "moderate", "should"),
        ("probable", "moderate", "high", "must"),
        ("probable", "high", "high", "must"),
    ],
)
def test_the_charter_matrix(likelihood, impact, expected, application):
    tier = charter_risk(Answers(charter_likelihood=likelihood, charter_impact=impact))
    assert tier.value == expected
    assert f"{application} be applied" in tier.reason


def test_a_policy_can_move_a_cell_of_the_matrix():
    data = RiskPolicy().as_dict()
    data["charter_matrix"]["improbable"]["high"] = "high"
    policy = RiskPolicy.from_dict(data)
    answers = Answers(charter_likelihood="improbable", charter_impact="high")
    assert charter_risk(answers, policy=policy).value == "high"


def test_a_policy_with_a_bad_cell_is_refused():
    data = RiskPolicy().as_dict()
    data["charter_matrix"]["probable"]["low"] = "severe"
    with pytest.raises(ValueError, match="probable, low"):
        RiskPolicy.from_dict(data)


def test_indigenous_data_without_sovereignty_answers_is_refused():
    errors = validate(
        Answers(charter_likelihood="occasional", charter_impact="low"),
        Profile(special_categories=("indigenous",), must_stay=True),
    )
    assert set(errors) == {
        "sovereignty.rangatiratanga",
        "sovereignty.whakapapa",
        "sovereignty.whanaungatanga",
        "sovereignty.kotahitanga",
        "sovereignty.manaakitanga",
        "sovereignty.kaitiakitanga",
        "sovereignty_evidence.authority_holder",
        "sovereignty_evidence.agreement_reference",
        "sovereignty_evidence.data_hosting",
        "sovereignty_evidence.model_hosting",
        "sovereignty_evidence.kaitiaki_reviewer",
    }


def test_a_must_stay_profile_cannot_answer_overseas_hosting():
    evidence = {**COMPLETE_SOVEREIGNTY["sovereignty_evidence"]}
    evidence["model_hosting"] = "overseas"
    answers = Answers.from_dict(
        {
            "charter_likelihood": "occasional",
            "charter_impact": "low",
            "sovereignty": COMPLETE_SOVEREIGNTY["sovereignty"],
            "sovereignty_evidence": evidence,
        }
    )
    errors = validate(answers, Profile(special_categories=(), must_stay=True))
    assert list(errors) == ["sovereignty_evidence.model_hosting"]
    assert "must stay" in errors["sovereignty_evidence.model_hosting"]


def test_health_data_needs_the_pia_as_evidence_and_cites_the_code():
    profile = Profile(special_categories=("health",), must_stay=True)
    answers = Answers(charter_likelihood="occasional", charter_impact="low")
    assert "pia_reference" in validate(answers, profile)
    result = evaluate(
        Answers(
            charter_likelihood="occasional",
            charter_impact="low",
            pia_reference="PIA-77",
        ),
        profile,
    )
    assert result.pia_required is True
    assert "Health Information Privacy Code 2020" in result.pia_reason


def test_health_and_indigenous_data_trigger_privacy_and_sovereignty_stages():
    answers = Answers.from_dict(
        {
            "charter_likelihood": "probable",
            "charter_impact": "high",
            "high_risk_areas": ["essential_public_services"],
            "pia_reference": "PIA-1",
            **COMPLETE_SOVEREIGNTY,
        }
    )
    profile = Profile(
        special_categories=("health", "indigenous"),
        data_classification="restricted",
        must_stay=True,
        monthly_cost=12_500.0,
    )
    assert validate(answers, profile) == {}
    result = evaluate(answers, profile)
    assert [s.stage for s in result.stages] == [
        "privacy",
        "security",
        "legal",
        "data_sovereignty",
        "finance",
    ]
    assert result.eu_ai_act_tier == "high"
    assert result.charter_risk == "high"
    assert result.must_publish is True
    assert result.review_interval_months == 6
    assert result.stages[4].reason == (
        "Estimated $12,500 a month, above the $10,000 threshold."
    )


def test_a_public_low_risk_use_case_needs_no_stage():
    assert required_stages(Profile(monthly_cost=900.0)) == ()


def test_iso_evidence_lists_what_is_missing():
    result = evaluate(
        Answers(
            charter_likelihood="improbable",
            charter_impact="low",
            impact_assessment_reference="AIA-3",
        ),
        Profile(),
    )
    assert [(e.control, e.satisfied) for e in result.evidence] == [
        ("A.5", True),
        ("A.7", False),
        ("A.6", False),
        ("A.10", False),
    ]
    assert result.must_publish is False
    assert result.charter_application == "could"
