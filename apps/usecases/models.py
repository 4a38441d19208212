from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

from apps.accounts.models import Team
from apps.core.models import AppendOnlyModel

if TYPE_CHECKING:
    from apps.accounts.models import User


class DataClassification(models.TextChoices):
    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    CONFIDENTIAL = "confidential", "Confidential"
    RESTRICTED = "restricted", "Restricted"


class SpecialCategory(models.TextChoices):
    PERSONAL = "personal", "Personal information"
    HEALTH = "health", "Health information"
    FINANCIAL = "financial", "Financial information"
    GOVERNMENT = "government", "Government information"
    INDIGENOUS = "indigenous", "Indigenous data"


class TaskType(models.TextChoices):
    CLASSIFICATION = "classification", "Classification"
    EXTRACTION = "extraction", "Extraction"
    FORMATTING = "formatting", "Formatting"
    SUMMARISATION = "summarisation", "Summarisation"
    ANALYSIS = "analysis", "Analysis"
    STRUCTURED_GENERATION = "structured_generation", "Structured generation"
    CODE_GENERATION = "code_generation", "Code generation"
    REASONING = "reasoning", "Reasoning"
    PLANNING = "planning", "Planning"
    CREATIVE_GENERATION = "creative_generation", "Creative generation"


class UseCaseQuerySet(models.QuerySet["UseCase"]):
    def visible_to(self, user: User) -> UseCaseQuerySet:
        """Use-cases the user may read.

        Board, platform, procurement and auditors read everything. A requester reads
        their own and their team's, and other teams' submitted public or internal
        ones; never another team's confidential or restricted use-case.
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.reads_everything:
            return self
        rule = Q(owner=user)
        if user.team_id:
            rule |= Q(team_id=user.team_id)
        rule |= Q(
            data_classification__in=[
                DataClassification.PUBLIC,
                DataClassification.INTERNAL,
            ]
        ) & ~Q(status=UseCase.Status.DRAFT)
        return self.filter(rule)

    def editable_by(self, user: User) -> UseCaseQuerySet:
        if user.is_superuser:
            return self.filter(status__in=UseCase.EDITABLE_STATUSES)
        return self.filter(owner=user, status__in=UseCase.EDITABLE_STATUSES)

    def for_list(self) -> UseCaseQuerySet:
        return self.select_related("owner", "team").prefetch_related("workloads")

    def for_api_list(self) -> UseCaseQuerySet:
        """The columns the API's list shows, owner and team names joined in SQL.

        Annotates ``owner_username`` and ``team_name``; no related model is built
        (the API reads workloads for the whole page at once).
        """
        return self.only(*self.model.LIST_FIELDS).annotate(
            owner_username=F("owner__username"), team_name=F("team__name")
        )


class UseCase(models.Model):
    """A request to use AI for one business purpose, with its data and traffic."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        IN_REVIEW = "in_review", "In review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CHANGES_REQUESTED = "changes_requested", "Changes requested"
        LIVE = "live", "Live"
        RETIRED = "retired", "Retired"

    class CapabilityNeed(models.TextChoices):
        STANDARD = "standard", "Standard"
        ADVANCED = "advanced", "Advanced"
        FRONTIER = "frontier", "Frontier (top ~5% of model capability)"

    class MlopsReadiness(models.TextChoices):
        NONE = "none", "None: nobody runs models in production today"
        LIMITED = "limited", "Limited: some experience, no on-call GPU platform"
        ESTABLISHED = "established", "Established: we run GPU services in production"

    class Horizon(models.TextChoices):
        EXPERIMENT = "experiment", "Experiment: may or may not prove out"
        PRODUCTION = "production", "Production: a service we will run"
        CORE = "core", "Core: a capability we will run for years"

    EDITABLE_STATUSES = (Status.DRAFT, Status.CHANGES_REQUESTED)
    #: The columns lists read (`UseCaseQuerySet.for_api_list`).
    LIST_FIELDS = (
        "id",
        "title",
        "owner_id",
        "team_id",
        "status",
        "data_classification",
        "requests_per_day",
        "reassessment_flagged_at",
        "created_at",
        "updated_at",
        "submitted_at",
    )

    title = models.CharField(max_length=200)
    description = models.TextField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="use_cases"
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="use_cases")
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True
    )

    data_classification = models.CharField(
        max_length=20, choices=DataClassification.choices
    )
    special_categories = models.JSONField(default=list, blank=True)
    must_stay_in_infrastructure = models.BooleanField(default=False)

    requests_per_day = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000_000)]
    )
    avg_input_tokens = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(10_000_000)]
    )
    avg_output_tokens = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(1_000_000)]
    )
    peak_factor = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
    )
    capability_need = models.CharField(
        max_length=20, choices=CapabilityNeed.choices, default=CapabilityNeed.STANDARD
    )
    context_tokens = models.PositiveIntegerField(
        default=8000, validators=[MinValueValidator(1), MaxValueValidator(10_000_000)]
    )
    mlops_readiness = models.CharField(max_length=20, choices=MlopsReadiness.choices)
    horizon = models.CharField(max_length=20, choices=Horizon.choices)
    fine_tuning_data = models.BooleanField(default=False)

    # Set when live usage drifts past what the last assessment assumed.
    reassessment_flagged_at = models.DateTimeField(null=True, blank=True)
    reassessment_reason = models.TextField(blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])
    objects = UseCaseQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        permissions = [
            ("review_usecase", "Can review and decide use-cases"),
            ("view_audit_trail", "Can read every use-case's audit trail"),
        ]
        indexes = [models.Index(fields=["team", "status"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("usecases:detail", args=[self.pk])

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE_STATUSES

    def can_edit(self, user: User) -> bool:
        return self.is_editable and (user.is_superuser or self.owner_id == user.pk)

    def may_leave_infrastructure(
        self, *, blocked_categories: set[str], blocked_classifications: set[str]
    ) -> bool:
        """Either the requester's answer or the policy can keep the data in-house."""
        if self.must_stay_in_infrastructure:
            return False
        if self.data_classification in blocked_classifications:
            return False
        return not blocked_categories.intersection(self.special_categories or [])

    def special_category_labels(self) -> list[str]:
        labels = dict(SpecialCategory.choices)
        return [labels.get(c, c) for c in self.special_categories or []]


class Workload(models.Model):
    """A slice of a use-case's traffic with one task type; shares sum to 100."""

    use_case = models.ForeignKey(
        UseCase, on_delete=models.CASCADE, related_name="workloads"
    )
    task_type = models.CharField(max_length=30, choices=TaskType.choices)
    share = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    notes = models.CharField(max_length=200, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["-share", "pk"]

    def __str__(self) -> str:
        return f"{self.share}% {self.get_task_type_display()}"


class Transition(AppendOnlyModel):
    """One move in a use-case's lifecycle; append-only."""

    use_case = models.ForeignKey(
        UseCase, on_delete=models.PROTECT, related_name="transitions"
    )
    from_status = models.CharField(max_length=20, choices=UseCase.Status.choices)
    to_status = models.CharField(max_length=20, choices=UseCase.Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class AuditEvent(AppendOnlyModel):
    """An append-only entry in the audit trail (assessments, guard refusals, ...).

    Field changes come from the use-case's history and moves from `Transition`; every
    other notable event, from any app, is recorded here with `record()`.
    """

    use_case = models.ForeignKey(
        UseCase,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    kind = models.CharField(max_length=60, db_index=True)  # e.g. "playground.refused"
    summary = models.CharField(max_length=500)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.summary}"

    @classmethod
    def record(
        cls,
        *,
        kind: str,
        summary: str,
        actor: User | None = None,
        use_case: UseCase | None = None,
        data: dict | None = None,
    ) -> AuditEvent:
        return cls.objects.create(
            kind=kind,
            summary=summary[:500],
            actor=actor,
            use_case=use_case,
            data=data or {},
        )


# Importable name for the status enum (the API schema names it once).
UseCaseStatus = UseCase.Status
