"""Risk assessments (versioned), their drafts, the risk policy and approval stages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction

from apps.core.models import AppendOnlyModel, AppendOnlyQuerySet
from apps.usecases.models import UseCase

from . import rules

if TYPE_CHECKING:
    from apps.accounts.models import User


class EuTier(models.TextChoices):
    PROHIBITED = "prohibited", "Prohibited (Art. 5)"
    HIGH = "high", "High-risk (Annex III)"
    LIMITED = "limited", "Limited: transparency duties (Art. 50)"
    MINIMAL = "minimal", "Minimal"


class CharterRisk(models.TextChoices):
    LOW = "low", "Low"
    MODERATE = "moderate", "Moderate"
    HIGH = "high", "High"


if tuple(EuTier.values) != rules.EU_TIERS or tuple(CharterRisk.values) != (
    rules.CHARTER_RISKS
):  # the rules' vocabulary is the contract (DESIGN §10)
    raise ImportError("Risk choices differ from apps.risk.rules.")


class RiskPolicyQuerySet(AppendOnlyQuerySet):
    def current(self) -> RiskPolicyVersion:
        """The latest version; the rules' defaults become version 1 if none."""
        policy = self.order_by("-number").first()
        if policy is not None:
            return policy
        with transaction.atomic():
            policy = self.select_for_update().order_by("-number").first()
            if policy is None:
                policy = RiskPolicyVersion.objects.create(
                    number=1,
                    data=rules.DEFAULT_RISK_POLICY.as_dict(),
                    note="The default risk policy.",
                )
        return policy


class RiskPolicyVersion(AppendOnlyModel):
    """One version of the risk policy (matrix, stage rules, thresholds).

    Platform edits it; each save is a new row and assessments keep the version
    they were made under.
    """

    number = models.PositiveIntegerField(unique=True)
    data = models.JSONField()
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    objects = RiskPolicyQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"risk policy v{self.number}"

    def rules_policy(self) -> rules.RiskPolicy:
        return rules.RiskPolicy.from_dict(self.data)


class RiskAssessmentQuerySet(AppendOnlyQuerySet):
    def latest_for(self, use_case: UseCase) -> RiskAssessment | None:
        return self.filter(use_case=use_case).order_by("-number").first()


class RiskAssessment(AppendOnlyModel):
    """One version of a use-case's risk questionnaire and what the rules made of it.

    Immutable like the framework's assessments: a change of answers is a new
    version (`number` counts per use-case); `result` is `RiskResult.as_dict()`.
    """

    use_case = models.ForeignKey(
        UseCase, on_delete=models.PROTECT, related_name="risk_assessments"
    )
    number = models.PositiveIntegerField()
    answers = models.JSONField()
    result = models.JSONField()
    eu_ai_act_tier = models.CharField(max_length=12, choices=EuTier.choices)
    # Choices without labels: the same set as the Charter's impact levels, so the
    # API schema names it once (CharterRiskEnum).
    charter_risk = models.CharField(
        max_length=10, choices=[(v, v) for v in rules.CHARTER_RISKS]
    )
    pia_required = models.BooleanField()
    policy_version = models.ForeignKey(
        RiskPolicyVersion, on_delete=models.PROTECT, related_name="assessments"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = RiskAssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["use_case", "number"], name="risk_assessment_number_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Risk assessment v{self.number} of {self.use_case_id}"

    @property
    def must_publish(self) -> bool:
        return bool(self.result.get("must_publish"))

    @property
    def stages(self) -> list[dict[str, str]]:
        return list(self.result.get("stages", []))


class RiskDraft(models.Model):
    """Unvalidated answers saved while the requester works through the form."""

    use_case = models.OneToOneField(
        UseCase, on_delete=models.CASCADE, related_name="risk_draft"
    )
    answers = models.JSONField(default=dict)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Risk draft of {self.use_case_id}"


class StageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"


class ApprovalStageQuerySet(models.QuerySet["ApprovalStage"]):
    def current(self, use_case: UseCase) -> ApprovalStageQuerySet:
        """The stages of the use-case's present submission."""
        return self.filter(use_case=use_case, round=submission_round(use_case))


def submission_round(use_case: UseCase) -> int:
    """How many times the use-case has been submitted (stages belong to one)."""
    return use_case.transitions.filter(to_status=UseCase.Status.SUBMITTED).count()


class ApprovalStage(models.Model):
    """One approval the policy requires before the board may decide, e.g. privacy.

    Named people and members of `roles` may decide. `approver_ids` fixes who they
    were when the stage opened: with mode `all` every one of them must approve,
    with `any` one approval is enough. Any rejection rejects.
    """

    class Kind(models.TextChoices):
        PRIVACY = "privacy", "Privacy"
        SECURITY = "security", "Security"
        LEGAL = "legal", "Legal"
        DATA_SOVEREIGNTY = "data_sovereignty", "Māori data sovereignty"
        FINANCE = "finance", "Finance"

    class Mode(models.TextChoices):
        ANY = "any", "Any one approver"
        ALL = "all", "Every approver"

    use_case = models.ForeignKey(
        UseCase, on_delete=models.PROTECT, related_name="approval_stages"
    )
    round = models.PositiveIntegerField()
    kind = models.CharField(max_length=20, choices=Kind.choices)
    mode = models.CharField(max_length=3, choices=Mode.choices)
    reason = models.CharField(max_length=300)
    roles = models.JSONField(default=list)
    approver_ids = models.JSONField(default=list)
    status = models.CharField(
        max_length=20, choices=StageStatus.choices, default=StageStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    objects = ApprovalStageQuerySet.as_manager()

    class Meta:
        ordering = ["use_case", "round", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["use_case", "round", "kind"], name="approval_stage_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display().lower()})"

    def may_decide(self, user: User) -> bool:
        """Named people and present members of the stage's roles (a superuser too)."""
        if not user.is_active:
            return False
        return (
            user.is_superuser
            or user.pk in self.approver_ids
            or user.has_role(*self.roles)
        )

    def approvers(self) -> list[Any]:
        return list(
            get_user_model().objects.filter(pk__in=self.approver_ids).order_by("pk")
        )

    def status_from(self, decisions: list[StageDecision]) -> str:
        """The stage's status from its decisions, each approver's latest counting."""
        latest: dict[int, str] = {}
        for decision in decisions:  # oldest first
            latest[decision.decided_by_id] = decision.outcome
        outcomes = set(latest.values())
        if StageDecision.Outcome.REJECTED in outcomes:
            return StageStatus.REJECTED
        if StageDecision.Outcome.CHANGES_REQUESTED in outcomes:
            return StageStatus.CHANGES_REQUESTED
        approved = {
            pk for pk, o in latest.items() if o == StageDecision.Outcome.APPROVED
        }
        if self.mode == self.Mode.ANY and approved:
            return StageStatus.APPROVED
        # "all": everyone fixed when the stage opened (and at least one).
        if (
            self.mode == self.Mode.ALL
            and approved
            and set(self.approver_ids) <= approved
        ):
            return StageStatus.APPROVED
        return StageStatus.PENDING


class StageDecision(AppendOnlyModel):
    """One approver's decision on a stage, with the reason; append-only."""

    class Outcome(models.TextChoices):
        APPROVED = "approved", "Approve"
        REJECTED = "rejected", "Reject"
        CHANGES_REQUESTED = "changes_requested", "Request changes"

    stage = models.ForeignKey(
        ApprovalStage, on_delete=models.PROTECT, related_name="decisions"
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    reason = models.TextField(blank=True)
    evidence = models.CharField(max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} on {self.stage_id}"
