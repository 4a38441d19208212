"""Risk writes: drafts, assessments, approval stages and the approval gate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.events import Event, EventKind, emit
from apps.framework.models import Assessment, Policy
from apps.usecases.models import AuditEvent, UseCase

from . import rules
from .models import (
    ApprovalStage,
    RiskAssessment,
    RiskDraft,
    RiskPolicyVersion,
    StageDecision,
    StageStatus,
    submission_round,
)

if TYPE_CHECKING:
    from apps.accounts.models import User

S = UseCase.Status
# While these, the owner may still change the risk answers (evidence arrives late).
RISK_EDITABLE = (S.DRAFT, S.CHANGES_REQUESTED, S.SUBMITTED, S.IN_REVIEW)
UNDER_REVIEW = (S.SUBMITTED, S.IN_REVIEW)
# Stages whose approver checks evidence from the questionnaire.
EVIDENCE_STAGES = ("privacy", "data_sovereignty")


# Marks an argument the caller did not read (None means "read, and there is none").
_UNREAD: Any = object()


class StageForbidden(PermissionError):
    """The user is not among the stage's approvers."""


def may_edit_risk(use_case: UseCase, user: User) -> bool:
    return use_case.status in RISK_EDITABLE and (
        user.is_superuser or use_case.owner_id == user.pk
    )


def current_policy() -> tuple[RiskPolicyVersion, rules.RiskPolicy]:
    version = RiskPolicyVersion.objects.current()
    return version, version.rules_policy()


def profile_for(use_case: UseCase) -> rules.Profile:
    """The rules' view of the use-case: data profile, data policy, latest cost."""
    data_policy = Policy.objects.current().engine_policy()
    must_stay = not use_case.may_leave_infrastructure(
        blocked_categories=set(data_policy.categories_that_may_not_leave),
        blocked_classifications=set(data_policy.classifications_that_may_not_leave),
    )
    cost = (
        Assessment.objects.filter(use_case=use_case)
        .newest_first()
        .values_list("monthly_cost", flat=True)
        .first()
    )
    return rules.Profile(
        special_categories=tuple(use_case.special_categories or ()),
        data_classification=use_case.data_classification,
        must_stay=must_stay,
        monthly_cost=float(cost) if cost is not None else None,
    )


def save_risk_draft(
    *, use_case: UseCase, by: User, answers: dict[str, Any]
) -> RiskDraft:
    """Keep unfinished answers, unvalidated; the next full save replaces them."""
    if not may_edit_risk(use_case, by):
        raise PermissionError("Only the owner edits the risk assessment.")
    draft, _ = RiskDraft.objects.update_or_create(
        use_case=use_case, defaults={"answers": answers, "updated_by": by}
    )
    return draft


def record_risk_assessment(
    *, use_case: UseCase, by: User, answers: dict[str, Any]
) -> RiskAssessment:
    """Validate the answers against the data profile and store a new version.

    Raises `ValidationError` with field errors (nothing is recorded) and
    `PermissionError` for someone other than the owner.
    """
    if not may_edit_risk(use_case, by):
        raise PermissionError("Only the owner edits the risk assessment.")
    version, policy = current_policy()
    parsed = rules.Answers.from_dict(answers)
    profile = profile_for(use_case)
    errors = rules.validate(parsed, profile, policy=policy)
    if errors:
        raise ValidationError({k: [v] for k, v in errors.items()})
    result = rules.evaluate(parsed, profile, policy=policy)
    with transaction.atomic():
        locked = UseCase.objects.select_for_update().get(pk=use_case.pk)
        latest = RiskAssessment.objects.latest_for(locked)
        assessment = RiskAssessment.objects.create(
            use_case=locked,
            number=(latest.number + 1) if latest else 1,
            answers=parsed.as_dict(),
            result=result.as_dict(),
            eu_ai_act_tier=result.eu_ai_act_tier,
            charter_risk=result.charter_risk,
            pia_required=result.pia_required,
            policy_version=version,
            created_by=by,
        )
        RiskDraft.objects.filter(use_case=locked).delete()
        AuditEvent.record(
            kind="risk.assessed",
            summary=f"Risk assessment v{assessment.number}: EU AI Act "
            f"{result.eu_ai_act_tier}, Charter risk {result.charter_risk}",
            actor=by,
            use_case=locked,
            data={
                "risk_assessment_id": assessment.pk,
                "stages": result.as_dict()["stages"],
            },
        )
        if locked.status in UNDER_REVIEW:
            open_stages(use_case=locked)
    return assessment


def required_stages(
    use_case: UseCase, *, latest: RiskAssessment | None = _UNREAD
) -> tuple[rules.StageNeed, ...]:
    """What the policy requires now, from the profile and the latest answers."""
    _, policy = current_policy()
    if latest is _UNREAD:
        latest = RiskAssessment.objects.latest_for(use_case)
    return rules.required_stages(
        profile_for(use_case),
        eu_tier=latest.eu_ai_act_tier if latest else "",
        charter=latest.charter_risk if latest else "",
        policy=policy,
    )


def _approver_ids(rule: rules.StageRule) -> list[int]:
    users = get_user_model().objects.filter(is_active=True)
    named = set(users.filter(username__in=rule.users).values_list("pk", flat=True))
    members = set(
        users.filter(groups__name__in=rule.roles).values_list("pk", flat=True)
    )
    return sorted(named | members)


def open_stages(*, use_case: UseCase) -> list[ApprovalStage]:
    """Create the required stages of the present submission that do not exist yet.

    Stages already open keep their approvers and decisions; a new submission
    (after changes were requested) starts a new round.
    """
    _, policy = current_policy()
    round_ = submission_round(use_case)
    existing = {
        s.kind: s for s in ApprovalStage.objects.filter(use_case=use_case, round=round_)
    }
    for need in required_stages(use_case):
        if need.stage in existing:
            continue
        rule = policy.stage_rules[need.stage]
        existing[need.stage] = ApprovalStage.objects.create(
            use_case=use_case,
            round=round_,
            kind=need.stage,
            mode=rule.mode,
            reason=need.reason,
            roles=list(rule.roles),
            approver_ids=_approver_ids(rule),
        )
    return list(existing.values())


def decide_stage(
    *,
    stage: ApprovalStage,
    by: User,
    outcome: str,
    reason: str = "",
    evidence: str = "",
) -> StageDecision:
    """Record one approver's decision and the stage's resulting status.

    Raises `StageForbidden` for someone not among the approvers, and
    `ValidationError` with field errors (a rejection or request for changes
    without a reason, a stage no longer open); nothing is recorded then.
    """
    if not stage.may_decide(by):
        raise StageForbidden(
            f"You are not among the approvers of the {stage.get_kind_display()} stage."
        )
    errors: dict[str, list[str]] = {}
    if outcome not in StageDecision.Outcome.values:
        errors["outcome"] = ["Approve, reject or request changes."]
    elif outcome != StageDecision.Outcome.APPROVED and not reason.strip():
        errors["reason"] = ["Give the reason for rejecting or asking for changes."]
    if stage.use_case.status not in UNDER_REVIEW or stage.round != submission_round(
        stage.use_case
    ):
        errors["__all__"] = ["This stage is no longer open for decisions."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = ApprovalStage.objects.select_for_update().get(pk=stage.pk)
        decision = StageDecision.objects.create(
            stage=locked,
            outcome=outcome,
            reason=reason.strip(),
            evidence=evidence.strip(),
            decided_by=by,
        )
        status = locked.status_from(list(locked.decisions.all()))
        if status != locked.status:
            locked.status = status
            locked.decided_at = (
                timezone.now() if status != StageStatus.PENDING else None
            )
            locked.save(update_fields=["status", "decided_at"])
        use_case = locked.use_case
        AuditEvent.record(
            kind="risk.stage_decided",
            summary=f"{locked.get_kind_display()} stage: "
            f"{decision.get_outcome_display().lower()} by {by.username}"
            f" (stage {locked.get_status_display().lower()})",
            actor=by,
            use_case=use_case,
            data={
                "stage_id": locked.pk,
                "stage": locked.kind,
                "outcome": outcome,
                "reason": decision.reason,
                "evidence": decision.evidence,
                "stage_status": locked.status,
            },
        )
        emit(
            Event(
                kind=EventKind.STAGE_DECIDED,
                key=f"stage_decided:{decision.pk}",
                title=f"{locked.get_kind_display()} stage "
                f"{locked.get_status_display().lower()}: {use_case.title}",
                body=decision.reason,
                url=use_case.get_absolute_url(),
                use_case_id=use_case.pk,
                actor_id=by.pk,
                user_ids=(use_case.owner_id,),
                roles=("board",),
            )
        )
    stage.status = locked.status
    return decision


def approval_blockers(
    use_case: UseCase,
    *,
    latest: RiskAssessment | None = _UNREAD,
    stages: list[ApprovalStage] | None = None,
) -> list[str]:
    """Why the board may not approve now ([] when it may).

    A prohibited practice is never approvable; every stage the policy requires
    must have approved; Indigenous or personal data needs a risk assessment
    holding its evidence first.
    """
    if latest is _UNREAD:
        latest = RiskAssessment.objects.latest_for(use_case)
    if latest is not None and latest.eu_ai_act_tier == rules.EU_TIERS[0]:
        return [
            "The risk assessment found a practice prohibited by the EU AI Act "
            "(Art. 5): it cannot be approved by anyone."
        ]
    needs = required_stages(use_case, latest=latest)
    problems = []
    if latest is None and any(n.stage in EVIDENCE_STAGES for n in needs):
        problems.append(
            "The data profile needs a risk assessment with its evidence (privacy "
            "impact assessment, Te Mana Raraunga answers) before approval."
        )
    elif latest is not None:
        # The profile may have changed since: the answers must still hold.
        _, policy = current_policy()
        missing = rules.validate(
            rules.Answers.from_dict(latest.answers),
            profile_for(use_case),
            policy=policy,
        )
        if missing:
            problems.append(
                "The risk assessment no longer fits the data profile: "
                + "; ".join(f"{k}: {v}" for k, v in sorted(missing.items()))
            )
    if stages is None:
        stages = list(
            ApprovalStage.objects.filter(
                use_case=use_case, round=submission_round(use_case)
            )
        )
    by_kind = {s.kind: s for s in stages}
    for need in needs:
        stage = by_kind.get(need.stage)
        label = ApprovalStage.Kind(need.stage).label
        if stage is None:
            problems.append(f"The {label} stage has not been opened ({need.reason})")
        elif stage.status != StageStatus.APPROVED:
            problems.append(
                f"The {label} stage is {stage.get_status_display().lower()}."
            )
    return problems


def register_entries(use_cases: Any) -> list[dict[str, Any]]:
    """Public algorithm-register rows for the given use-cases that must publish
    (their latest risk assessment says so) and are approved or live."""
    in_use = use_cases.filter(status__in=(S.APPROVED, S.LIVE)).select_related(
        "team", "owner"
    )
    latest: dict[int, RiskAssessment] = {}
    for assessment in RiskAssessment.objects.filter(use_case__in=in_use).order_by(
        "number"
    ):
        latest[assessment.use_case_id] = assessment
    rows = []
    for use_case in in_use.order_by("pk"):
        assessment = latest.get(use_case.pk)
        if assessment is None or not assessment.must_publish:
            continue
        answers = assessment.answers
        rows.append(
            {
                "use_case_id": use_case.pk,
                "name": use_case.title,
                "agency_team": use_case.team.name,
                "purpose": use_case.description,
                "charter_risk": assessment.charter_risk,
                "eu_ai_act_tier": assessment.eu_ai_act_tier,
                "data_used": ", ".join(use_case.special_category_labels())
                or use_case.get_data_classification_display(),
                "human_oversight": answers.get("monitoring_plan", ""),
                "contact": use_case.owner.email or use_case.owner.username,
                "last_assessed": assessment.created_at.date().isoformat(),
            }
        )
    return rows


def evidence_rows(use_case: UseCase) -> list[dict[str, Any]]:
    """The ISO/IEC 42001 Annex A evidence list of the latest risk assessment,
    plus the approval stages' evidence, for auditors."""
    latest = RiskAssessment.objects.latest_for(use_case)
    rows = [
        {
            "control": item["control"],
            "item": item["item"],
            "evidence": item["evidence"],
            "satisfied": item["satisfied"],
        }
        for item in (latest.result.get("evidence", []) if latest else [])
    ]
    for decision in StageDecision.objects.filter(
        stage__use_case=use_case, outcome=StageDecision.Outcome.APPROVED
    ).select_related("stage", "decided_by"):
        rows.append(
            {
                "control": "A.3",  # roles and responsibilities: who approved
                "item": f"{decision.stage.get_kind_display()} stage approved by "
                f"{decision.decided_by.username}",
                "evidence": decision.evidence or decision.reason,
                "satisfied": True,
            }
        )
    return rows


def may_edit_policy(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.has_role("platform"))


def save_risk_policy(
    *, data: dict[str, Any], by: User, note: str = ""
) -> RiskPolicyVersion:
    """A new version of the risk policy; raises ValidationError on `data` for a
    setting the rules refuse, PermissionError for anyone but platform."""
    if not may_edit_policy(by):
        raise PermissionError("Platform maintains the risk policy.")
    try:
        normalised = rules.RiskPolicy.from_dict(data).as_dict()
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValidationError({"data": [str(exc)]}) from exc
    with transaction.atomic():
        current = RiskPolicyVersion.objects.current()
        if normalised == current.data:
            raise ValidationError({"data": ["This is the policy in force already."]})
        return RiskPolicyVersion.objects.create(
            number=current.number + 1, data=normalised, note=note[:300], created_by=by
        )
