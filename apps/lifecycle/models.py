"""Flags and comparisons of the model lifecycle (docs/lifecycle.md)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from apps.catalogue.models import CatalogModel
from apps.endpoints.models import UsageSample
from apps.playground.models import TestSetRun
from apps.usecases.models import UseCase


def _visible(queryset: models.QuerySet, user) -> models.QuerySet:  # type: ignore[no-untyped-def]
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.reads_everything:
        return queryset
    return queryset.filter(use_case__in=UseCase.objects.visible_to(user).values("pk"))


class DeprecationFlagQuerySet(models.QuerySet["DeprecationFlag"]):
    def visible_to(self, user) -> DeprecationFlagQuerySet:  # type: ignore[no-untyped-def]
        return _visible(self, user)

    def open(self) -> DeprecationFlagQuerySet:
        return self.filter(resolved_at__isnull=True)

    def for_list(self) -> DeprecationFlagQuerySet:
        return self.select_related("use_case", "model", "successor").order_by(
            "end_date", "use_case_id", "pk"
        )


class DeprecationFlag(models.Model):
    """A use-case whose decision routes to a model that is ending (deprecated or
    retiring within the policy's horizon): one per use-case and model, so the
    people concerned hear of it once."""

    use_case = models.ForeignKey(
        UseCase, on_delete=models.CASCADE, related_name="deprecation_flags"
    )
    model = models.ForeignKey(
        CatalogModel, on_delete=models.CASCADE, related_name="deprecation_flags"
    )
    served_model = models.CharField(max_length=200)
    status = models.CharField(
        max_length=12, choices=CatalogModel.LifecycleStatus.choices
    )
    end_date = models.DateField(null=True, blank=True)
    successor = models.ForeignKey(
        CatalogModel,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(
        null=True, blank=True, help_text="When the routes stopped naming the model."
    )

    objects = DeprecationFlagQuerySet.as_manager()

    class Meta:
        ordering = ["end_date", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["use_case", "model"], name="lifecycle_deprecation_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.use_case_id}: {self.model_id} ends {self.end_date}"


class ConformanceFlagQuerySet(models.QuerySet["ConformanceFlag"]):
    def visible_to(self, user) -> ConformanceFlagQuerySet:  # type: ignore[no-untyped-def]
        return _visible(self, user)

    def open(self) -> ConformanceFlagQuerySet:
        return self.filter(cleared_at__isnull=True)

    def for_list(self) -> ConformanceFlagQuerySet:
        return self.select_related("use_case").order_by("-first_seen", "-pk")


class ConformanceFlag(models.Model):
    """Live traffic of a use-case that contradicts its decision, from when it was
    first seen until the traffic conforms again (`cleared_at`)."""

    class Kind(models.TextChoices):
        UNAPPROVED_ROUTE = "unapproved_route", "Model or endpoint not approved"
        EXTERNAL_MUST_STAY = "external_must_stay", "External traffic, data must stay"
        SPLIT = "split", "Split off the approved weights"

    use_case = models.ForeignKey(
        UseCase, on_delete=models.CASCADE, related_name="conformance_flags"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # What is wrong, e.g. "route:3:gpt-4o"; one open flag per use-case and key.
    key = models.CharField(max_length=300)
    endpoint_id_seen = models.IntegerField(null=True, blank=True)
    model_seen = models.CharField(max_length=200, blank=True)
    detail = models.TextField()
    requests = models.BigIntegerField(default=0)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)

    objects = ConformanceFlagQuerySet.as_manager()

    class Meta:
        ordering = ["-first_seen", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["use_case", "key"],
                condition=Q(cleared_at__isnull=True),
                name="lifecycle_conformance_one_open_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.use_case_id}: {self.key}"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None


class ObservedSample(models.Model):
    """The requests of a ledger row when the conformance check last read it, so
    each check judges only the traffic that arrived since (one collection
    cycle), whatever the row's bucket width."""

    sample = models.OneToOneField(
        UsageSample, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    requests = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.sample_id}: {self.requests}"


class ComparisonQuerySet(models.QuerySet["Comparison"]):
    def visible_to(self, user) -> ComparisonQuerySet:  # type: ignore[no-untyped-def]
        return _visible(self, user)

    def for_list(self) -> ComparisonQuerySet:
        return self.select_related("use_case", "candidate_model").order_by(
            "-created_at", "-pk"
        )


class Comparison(models.Model):
    """An upgrade proposal and its evidence: the use-case's test sets run on the
    incumbent target and a candidate, side by side; the gate decides whether the
    board may adopt the candidate as an amendment of the routes."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed the gate"
        BLOCKED = "blocked", "Blocked: fails more cases"
        FAILED = "failed", "Could not run"
        ADOPTED = "adopted", "Adopted"
        DISMISSED = "dismissed", "Dismissed"

    use_case = models.ForeignKey(
        UseCase, on_delete=models.CASCADE, related_name="comparisons"
    )
    workload = models.CharField(max_length=40)
    # The target in force: {"endpoint": id, "model": served name}.
    incumbent = models.JSONField()
    candidate_model = models.ForeignKey(
        CatalogModel,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="comparisons",
    )
    # {"endpoint": id, "model": served name} once an endpoint serving it is chosen.
    candidate = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PROPOSED, db_index=True
    )
    runs = models.ManyToManyField(TestSetRun, blank=True, related_name="+")
    # Filled when the runs finish: per side, pass rates, latency, cost, failures.
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    adopted_decision_id = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = ComparisonQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A proposal is made once per use-case, workload, incumbent and model.
            models.UniqueConstraint(
                fields=["use_case", "workload", "candidate_model"],
                condition=Q(status="proposed"),
                name="lifecycle_comparison_one_open_proposal",
            )
        ]

    def __str__(self) -> str:
        return f"{self.use_case_id}/{self.workload}: {self.candidate_model_id}"

    def get_absolute_url(self) -> str:
        return reverse("lifecycle:comparison_detail", args=[self.pk])

    @property
    def may_adopt(self) -> bool:
        return self.status == self.Status.PASSED
