"""The board's record of a review: decisions and the comment thread, append-only."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Prefetch

from apps.core.models import AppendOnlyModel, AppendOnlyQuerySet
from apps.usecases.models import Transition, UseCase

if TYPE_CHECKING:
    from apps.accounts.models import User

# The roles that read the board's internal notes.
INTERNAL_READERS = ("board", "auditor")
MENTION = re.compile(r"(?<![\w.@])@([\w.+-]{1,150})")


class Pattern(models.TextChoices):
    """The four outcomes of the framework (DESIGN §3), as the board can choose them."""

    OPEN_SOURCE_SELF_HOSTED = "open_source_self_hosted", "Open-source, self-hosted"
    OPEN_SOURCE_MANAGED = "open_source_managed", "Open-source, managed"
    PROPRIETARY_API = "proprietary_api", "Proprietary API"
    HYBRID = "hybrid", "Hybrid (routed per workload)"


class Decision(AppendOnlyModel):
    """The board's decision on a use-case: outcome, pattern, models and conditions."""

    class Outcome(models.TextChoices):
        APPROVED = "approved", "Approve"
        REJECTED = "rejected", "Reject"
        CHANGES_REQUESTED = "changes_requested", "Request changes"

    use_case = models.ForeignKey(
        UseCase, on_delete=models.PROTECT, related_name="decisions"
    )
    transition = models.OneToOneField(
        Transition,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="decision",
    )
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    pattern = models.CharField(max_length=30, choices=Pattern.choices, blank=True)
    # The framework's recommendation when the decision was made ("" when none).
    recommended_pattern = models.CharField(
        max_length=30, choices=Pattern.choices, blank=True
    )
    overrule_reason = models.TextField(blank=True)
    chosen_models = models.JSONField(default=list, blank=True)
    conditions = models.JSONField(default=list, blank=True)
    # The gateway's routes (DESIGN §9): [{"workload", "targets": [{"endpoint",
    # "model", "weight"}], "fallback": [...]}], validated by apps.gateway.routes.
    routes = models.JSONField(default=list, blank=True)
    comment = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()}: {self.use_case_id}"

    @property
    def outcome_label(self) -> str:
        """ "Approved", "Rejected" or "Changes requested" (the status it led to)."""
        return str(UseCase.Status(self.outcome).label)

    @property
    def is_amendment(self) -> bool:
        """A change of routes to an approval in force: no move of the use-case."""
        return self.outcome == self.Outcome.APPROVED and self.transition_id is None

    @property
    def overrules(self) -> bool:
        return bool(
            self.pattern
            and self.recommended_pattern
            and self.pattern != self.recommended_pattern
        )

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.outcome == self.Outcome.APPROVED and not self.pattern:
            errors["pattern"] = "Choose the pattern the use-case is approved for."
        if self.overrules and not self.overrule_reason.strip():
            errors["overrule_reason"] = (
                "The framework recommends "
                f"{Pattern(self.recommended_pattern).label.lower()}; give the reason "
                "for choosing otherwise."
            )
        if self.outcome == self.Outcome.CHANGES_REQUESTED and not (
            self.comment.strip() or self.conditions
        ):
            errors["comment"] = "Say what needs to change."
        if errors:
            raise ValidationError(errors)


# The statuses in which the latest approval is in force (and routes serve traffic).
IN_FORCE = (UseCase.Status.APPROVED, UseCase.Status.LIVE)


def current_approval(use_case: UseCase) -> Decision | None:
    """The approval in force: the use-case's latest decision (an amendment
    included), when it approved and the use-case is still approved or live."""
    if use_case.status not in IN_FORCE:
        return None
    latest = (
        Decision.objects.filter(use_case=use_case).order_by("created_at", "pk").last()
    )
    return approval_among([latest] if latest else [], use_case)


def approval_among(decisions: list[Decision], use_case: UseCase) -> Decision | None:
    """:func:`current_approval` from the use-case's decisions already read, oldest
    first."""
    if use_case.status not in IN_FORCE or not decisions:
        return None
    latest = decisions[-1]
    return latest if latest.outcome == Decision.Outcome.APPROVED else None


def latest_decisions() -> Prefetch:
    """Prefetch a use-case's decisions, newest last, with who made them."""
    return Prefetch("decisions", queryset=Decision.objects.select_related("decided_by"))


class CommentQuerySet(AppendOnlyQuerySet):
    def visible_to(self, user: User) -> CommentQuerySet:
        """Board-internal notes are for the board and auditors only."""
        if user.has_role(*INTERNAL_READERS):
            return self
        return self.filter(internal=False)


class Comment(AppendOnlyModel):
    """One message in a use-case's review thread; `internal` ones are board-only."""

    use_case = models.ForeignKey(
        UseCase, on_delete=models.PROTECT, related_name="review_comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    body = models.TextField()
    internal = models.BooleanField(
        default=False, help_text="Board-internal note, hidden from the requester."
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = CommentQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.author_id} on {self.use_case_id}"

    def mentioned_usernames(self) -> list[str]:
        return sorted({m.rstrip(".") for m in MENTION.findall(self.body)})


class ConditionQuerySet(models.QuerySet["Condition"]):
    def unresolved(self) -> ConditionQuerySet:
        return self.filter(status__in=Condition.UNRESOLVED)

    def overdue(self) -> ConditionQuerySet:
        return self.filter(status=Condition.Status.OVERDUE)

    def for_list(self) -> ConditionQuerySet:
        return self.select_related("owner", "use_case")


class Condition(models.Model):
    """One condition of an approval, tracked as a task: owner, due date, evidence.

    `Decision.conditions` keeps the texts (the API field is unchanged); these rows
    are their tasks. A "before go-live" condition that is not done or waived keeps
    the use-case from going live. The periodic task marks late ones `overdue`
    once, and `overdue_notified_at` makes the notice a one-off.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"
        WAIVED = "waived", "Waived"
        OVERDUE = "overdue", "Overdue"

    UNRESOLVED = (Status.OPEN, Status.OVERDUE)

    use_case = models.ForeignKey(
        UseCase, on_delete=models.PROTECT, related_name="condition_tasks"
    )
    decision = models.ForeignKey(
        Decision, on_delete=models.PROTECT, related_name="condition_tasks"
    )
    text = models.CharField(max_length=500)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="conditions"
    )
    due_date = models.DateField(null=True, blank=True)
    before_go_live = models.BooleanField(default=False)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    evidence = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    overdue_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ConditionQuerySet.as_manager()

    class Meta:
        ordering = ["due_date", "pk"]

    def __str__(self) -> str:
        return self.text

    @property
    def is_unresolved(self) -> bool:
        return self.status in self.UNRESOLVED


class IncidentQuerySet(models.QuerySet["Incident"]):
    def open(self) -> IncidentQuerySet:
        return self.filter(status=Incident.Status.OPEN)

    def for_list(self) -> IncidentQuerySet:
        return self.select_related("reported_by", "use_case")


class Incident(models.Model):
    """Something that went wrong with a use-case in use, reported by anyone who
    can see it; actions are appended and a resolution closes it."""

    class Kind(models.TextChoices):
        HARMFUL_OUTPUT = "harmful_output", "Harmful output"
        DATA_LEAK = "data_leak", "Data leak"
        OUTAGE = "outage", "Outage"
        BIAS_COMPLAINT = "bias_complaint", "Bias complaint"
        OTHER = "other", "Other"

    class Severity(models.TextChoices):
        LOW = "low", "Low"
        MEDIUM = "medium", "Medium"
        HIGH = "high", "High"
        CRITICAL = "critical", "Critical"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    use_case = models.ForeignKey(
        UseCase, on_delete=models.PROTECT, related_name="incidents"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    title = models.CharField(max_length=200)
    description = models.TextField()
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    resolution = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.title


class IncidentAction(AppendOnlyModel):
    """One step taken on an incident; append-only."""

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="actions"
    )
    body = models.TextField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Action on {self.incident_id}"
class ReviewAssignment(models.Model):
    """Who on the board reviews a use-case: one reviewer at a time, reassignable."""

    use_case = models.OneToOneField(
        UseCase, on_delete=models.CASCADE, related_name="review_assignment"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.use_case_id} → {self.reviewer_id}"
