"""Approval stages: opened by rule, decided by their approvers, gating the board."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.reviews import services as review_services
from apps.reviews.models import Decision
from apps.risk import services
from apps.risk.models import ApprovalStage, RiskAssessment, StageDecision
from apps.usecases.models import AuditEvent, UseCase
from apps.usecases.services import submit_use_case
from tests.factories import UseCaseFactory, UserFactory

from .conftest import complete_answers

S = UseCase.Status


def approve(use_case, by):  # type: ignore[no-untyped-def]
    return review_services.decide_use_case(
        use_case=use_case,
        by=by,
        outcome="approved",
        pattern="open_source_self_hosted",
        overrule_reason="Data stays in-house.",
    )


def kinds(use_case):  # type: ignore[no-untyped-def]
    return sorted(
        ApprovalStage.objects.filter(use_case=use_case).values_list("kind", flat=True)
    )


@pytest.mark.django_db
def test_submitting_health_and_indigenous_data_opens_privacy_and_sovereignty(
    submitted, bob
):
    assert kinds(submitted) == ["data_sovereignty", "privacy"]
    privacy = ApprovalStage.objects.get(use_case=submitted, kind="privacy")
    assert privacy.reason == "Personal or health information."
    assert privacy.approver_ids == [bob.pk]
    assert privacy.status == "pending"


@pytest.mark.django_db
def test_a_plain_internal_use_case_opens_no_stage(alice):
    use_case = UseCaseFactory(owner=alice, requests_per_day=500)
    submit_use_case(use_case=use_case, by=alice)
    assert kinds(use_case) == []


@pytest.mark.django_db
def test_indigenous_data_cannot_be_approved_without_sovereignty_stage_and_evidence(
    submitted, alice, bob
):
    with pytest.raises(ValidationError) as refused:
        approve(submitted, bob)
    messages = refused.value.message_dict["outcome"]
    assert any("risk assessment" in m for m in messages)
    assert any("Māori data sovereignty stage is pending" in m for m in messages)
    submitted.refresh_from_db()
    assert submitted.status == S.SUBMITTED
    assert not Decision.objects.exists()

    services.record_risk_assessment(
        use_case=submitted, by=alice, answers=complete_answers()
    )
    privacy = ApprovalStage.objects.get(use_case=submitted, kind="privacy")
    services.decide_stage(stage=privacy, by=bob, outcome="approved")
    with pytest.raises(ValidationError, match="sovereignty stage is pending"):
        approve(submitted, bob)

    sovereignty = ApprovalStage.objects.get(use_case=submitted, kind="data_sovereignty")
    services.decide_stage(
        stage=sovereignty, by=bob, outcome="approved", evidence="DSA-2026-014"
    )
    decision = approve(submitted, bob)
    assert decision.outcome == "approved"
    submitted.refresh_from_db()
    assert submitted.status == S.APPROVED


@pytest.mark.django_db
def test_a_prohibited_practice_cannot_be_approved_by_anyone(
    submitted, alice, bob, root
):
    services.record_risk_assessment(
        use_case=submitted,
        by=alice,
        answers=complete_answers(prohibited_practices=["social_scoring"]),
    )
    for stage in ApprovalStage.objects.filter(use_case=submitted):
        services.decide_stage(stage=stage, by=root, outcome="approved")
    assert kinds(submitted) == ["data_sovereignty", "legal", "privacy"]
    for judge in (bob, root):
        with pytest.raises(ValidationError, match="cannot be approved by anyone"):
            approve(submitted, judge)
    submitted.refresh_from_db()
    assert submitted.status == S.SUBMITTED
    # Rejecting it stays possible.
    review_services.decide_use_case(
        use_case=submitted, by=bob, outcome="rejected", comment="Art. 5."
    )
    submitted.refresh_from_db()
    assert submitted.status == S.REJECTED


@pytest.mark.django_db
def test_an_all_stage_needs_every_approver(submitted, alice, bob):
    second = UserFactory(username="bea", role="board")
    stage = ApprovalStage.objects.get(use_case=submitted, kind="privacy")
    stage.mode = ApprovalStage.Mode.ALL
    stage.approver_ids = [bob.pk, second.pk]
    stage.save()
    services.decide_stage(stage=stage, by=bob, outcome="approved")
    stage.refresh_from_db()
    assert stage.status == "pending"
    services.decide_stage(stage=stage, by=second, outcome="approved")
    stage.refresh_from_db()
    assert stage.status == "approved"


@pytest.mark.django_db
def test_an_any_stage_is_approved_by_one_approver(submitted, bob):
    stage = ApprovalStage.objects.get(use_case=submitted, kind="privacy")
    services.decide_stage(stage=stage, by=bob, outcome="approved")
    stage.refresh_from_db()
    assert stage.status == "approved"


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["requester", "platform", "procurement", "auditor"])
def test_someone_not_among_the_approvers_cannot_decide_a_stage(submitted, cast, role):
    stage = ApprovalStage.objects.get(use_case=submitted, kind="privacy")
    with pytest.raises(services.StageForbidden):
        services.decide_stage(stage=stage, by=cast[role], outcome="approved")
    assert not StageDecision.objects.exists()
    stage.refresh_from_db()
    assert stage.status == "pending"


@pytest.mark.django_db
def test_rejecting_a_stage_needs_a_reason_and_records_nothing_without(submitted, bob):
    stage = ApprovalStage.objects.get(use_case=submitted, kind="privacy")
    with pytest.raises(ValidationError) as refused:
        services.decide_stage(stage=stage, by=bob, outcome="rejected", reason=" ")
    assert list(refused.value.message_dict) == ["reason"]
    assert not StageDecision.objects.exists()
    services.decide_stage(stage=stage, by=bob, outcome="rejected", reason="No PIA.")
    stage.refresh_from_db()
    assert stage.status == "rejected"


@pytest.mark.django_db
def test_a_stage_decision_is_audited_and_announced(
    submitted, bob, events, django_capture_on_commit_callbacks
):
    stage = ApprovalStage.objects.get(use_case=submitted, kind="privacy")
    with django_capture_on_commit_callbacks(execute=True):
        services.decide_stage(
            stage=stage, by=bob, outcome="changes_requested", reason="Attach the PIA."
        )
    audit = AuditEvent.objects.get(kind="risk.stage_decided")
    assert audit.data["reason"] == "Attach the PIA."
    [event] = [e for e in events if e.kind == "stage_decided"]
    assert event.user_ids == (submitted.owner_id,)
    assert event.roles == ("board",)


@pytest.mark.django_db
def test_indigenous_answers_missing_are_refused_and_nothing_recorded(submitted, alice):
    answers = complete_answers(sovereignty={})
    with pytest.raises(ValidationError) as refused:
        services.record_risk_assessment(use_case=submitted, by=alice, answers=answers)
    assert "sovereignty.rangatiratanga" in refused.value.message_dict
    assert not RiskAssessment.objects.exists()
    assert not AuditEvent.objects.filter(kind="risk.assessed").exists()


@pytest.mark.django_db
def test_must_stay_data_with_overseas_hosting_is_refused(submitted, alice):
    evidence = dict(
        complete_answers()["sovereignty_evidence"], model_hosting="overseas"
    )
    with pytest.raises(ValidationError) as refused:
        services.record_risk_assessment(
            use_case=submitted,
            by=alice,
            answers=complete_answers(sovereignty_evidence=evidence),
        )
    assert list(refused.value.message_dict) == ["sovereignty_evidence.model_hosting"]
    assert not RiskAssessment.objects.exists()


@pytest.mark.django_db
def test_a_new_answer_is_a_new_version(submitted, alice):
    first = services.record_risk_assessment(
        use_case=submitted, by=alice, answers=complete_answers()
    )
    second = services.record_risk_assessment(
        use_case=submitted,
        by=alice,
        answers=complete_answers(high_risk_areas=["essential_public_services"]),
    )
    assert (first.number, first.eu_ai_act_tier) == (1, "minimal")
    assert (second.number, second.eu_ai_act_tier) == (2, "high")
    # EU high-risk adds the legal stage to the open review.
    assert kinds(submitted) == ["data_sovereignty", "legal", "privacy"]


@pytest.mark.django_db
def test_answers_that_no_longer_fit_the_profile_block_approval(submitted, alice, bob):
    """A risk assessment made before Indigenous data was declared lacks its answers."""
    plain = UseCaseFactory(owner=alice, requests_per_day=500)
    services.record_risk_assessment(
        use_case=plain,
        by=alice,
        answers={"charter_likelihood": "improbable", "charter_impact": "low"},
    )
    plain.special_categories = ["indigenous"]
    plain.save()
    submit_use_case(use_case=plain, by=alice)
    stage = ApprovalStage.objects.get(use_case=plain)
    services.decide_stage(stage=stage, by=bob, outcome="approved")
    with pytest.raises(ValidationError, match="no longer fits the data profile"):
        approve(plain, bob)
    assert not Decision.objects.filter(use_case=plain).exists()


@pytest.mark.django_db
def test_the_board_opens_a_stage_the_policy_requires_later(client, submitted, bob):
    ApprovalStage.objects.filter(use_case=submitted, kind="privacy").delete()
    blockers = services.approval_blockers(submitted)
    assert (
        "The Privacy stage has not been opened (Personal or health information.)"
        in blockers
    )
    client.force_login(bob)
    response = client.post(f"/risk/{submitted.pk}/open-stages/")
    assert response.status_code == 302
    assert kinds(submitted) == ["data_sovereignty", "privacy"]
