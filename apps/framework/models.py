"""The framework's stored state: versioned policy and immutable assessments.

Lists that show each use-case's current recommendation (board queue, portfolio) use
one of these, each a constant number of queries whatever the number of rows:

- ``with_latest_assessment(UseCase.objects...)`` annotates every use-case with
  ``latest_outcome``, ``latest_monthly_cost``, ``latest_assessment_id`` and
  ``latest_assessed_at`` (correlated subqueries; no extra query at all);
- ``UseCase.objects...prefetch_related(latest_assessment_prefetch())`` puts the
  whole latest `Assessment` (or nothing) in ``use_case.latest_assessments`` (a list
  of at most one; one extra query for the page);
- ``Assessment.objects.latest_per_use_case()`` is the latest row of every use-case.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Case, OuterRef, Prefetch, Subquery, Value, When

from apps.core.models import AppendOnlyModel, AppendOnlyQuerySet
from apps.usecases.models import UseCase

from .engine import DEFAULT_POLICY, OUTCOMES
from .engine import Policy as EnginePolicy

if TYPE_CHECKING:
    from django.db.models import QuerySet


class Outcome(models.TextChoices):
    OPEN_SOURCE_SELF_HOSTED = "open_source_self_hosted", "Open-source, self-hosted"
    OPEN_SOURCE_MANAGED = "open_source_managed", "Open-source, managed"
    PROPRIETARY_API = "proprietary_api", "Proprietary API"
    HYBRID = "hybrid", "Hybrid"


if set(Outcome.values) != set(OUTCOMES):  # the engine's vocabulary is the contract
    raise ImportError("Outcome choices differ from the engine's OUTCOMES.")


class PolicyQuerySet(AppendOnlyQuerySet):
    def current(self) -> Policy:
        """The latest version; the engine's defaults become version 1 if none."""
        policy = self.order_by("-number").first()
        if policy is not None:
            return policy
        with transaction.atomic():
            policy = self.select_for_update().order_by("-number").first()
            if policy is None:
                policy = Policy.objects.create(
                    number=1,
                    data=_without_version(DEFAULT_POLICY.as_dict()),
                    note="The framework's default policy.",
                )
        return policy


def _without_version(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "version"}


class Policy(AppendOnlyModel):
    """One version of the framework policy (thresholds, data rules, ops costs).

    Each save makes a new row; the current policy is the highest `number`.
    `data` holds the engine `Policy` fields except `version`, which is `label`.
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

    objects = PolicyQuerySet.as_manager()

    class Meta:
        ordering = ["-number"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return f"v{self.number}"

    def engine_policy(self) -> EnginePolicy:
        """The engine's Policy for this version (validated by the engine)."""
        cached = getattr(self, "_engine_policy", None)
        if cached is None:
            cached = EnginePolicy.from_dict({**self.data, "version": self.label})
            self._engine_policy = cached
        return cached

    def changes_from(self, older: Policy | None) -> list[tuple[str, Any, Any]]:
        if older is None:
            return []
        return [
            (name, older.data.get(name), value)
            for name, value in self.data.items()
            if older.data.get(name) != value
        ]


class Trigger(models.TextChoices):
    SUBMIT = "submit", "Submitted"
    INPUTS_CHANGED = "inputs_changed", "Inputs changed"
    POLICY_CHANGED = "policy_changed", "Policy changed"
    PRICES_CHANGED = "prices_changed", "Prices changed"
    MANUAL = "manual", "Re-assessed by hand"
    USAGE_DRIFT = "usage_drift", "Live usage drifted"


class AssessmentQuerySet(AppendOnlyQuerySet):
    def newest_first(self) -> AssessmentQuerySet:
        return self.order_by("-created_at", "-pk")

    def latest_per_use_case(self) -> AssessmentQuerySet:
        """Only the latest assessment of each use-case (one query, any count).

        E.g. ``Assessment.objects.latest_per_use_case().filter(
        use_case__in=page)`` or as a Prefetch queryset (see module docstring).
        """
        return self.filter(pk=Subquery(_latest_pk()))

    def for_list(self) -> AssessmentQuerySet:
        return self.select_related("policy_version", "created_by").newest_first()


def _latest_pk(outer: str = "use_case") -> QuerySet:
    return (
        Assessment.objects.filter(use_case=OuterRef(outer))
        .order_by("-created_at", "-pk")
        .values("pk")[:1]
    )


class Assessment(AppendOnlyModel):
    """An immutable snapshot of what the framework said about a use-case, and why.

    `inputs` are the engine inputs used, `result` the engine's full
    `Assessment.as_dict()` (DESIGN §7 shape), `cost_curves` the chart's series at
    the time. `fingerprint` identifies the answer (inputs and result without the
    policy and price labels): a new row is written only when it changes.
    """

    use_case = models.ForeignKey(
        UseCase, on_delete=models.PROTECT, related_name="assessments"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    inputs = models.JSONField()
    policy_version = models.ForeignKey(
        Policy, on_delete=models.PROTECT, related_name="assessments"
    )
    price_snapshot = models.CharField(max_length=120)
    outcome = models.CharField(max_length=30, choices=Outcome.choices, db_index=True)
    result = models.JSONField()
    cost_curves = models.JSONField(default=list)
    monthly_cost = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Estimated monthly cost (USD) of the recommended option.",
    )
    break_even_requests_per_day = models.PositiveBigIntegerField(null=True, blank=True)
    fingerprint = models.CharField(max_length=64)

    objects = AssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        get_latest_by = ["created_at", "pk"]
        indexes = [models.Index(fields=["use_case", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} ({self.created_at:%Y-%m-%d})"

    @property
    def summary(self) -> str:
        return str(self.result.get("summary", ""))

    @property
    def close_call(self) -> bool:
        return bool(self.result.get("close_call"))

    @property
    def warnings(self) -> list[str]:
        return list(self.result.get("warnings", []))

    @property
    def policy_label(self) -> str:
        return f"v{self.policy_version.number}"

    @staticmethod
    def money(value: float | None) -> Decimal | None:
        return None if value is None else Decimal(str(round(value, 2)))


def with_latest_assessment(use_cases: QuerySet[UseCase]) -> QuerySet[UseCase]:
    """Annotate use-cases with their latest assessment's headline (no extra query).

    Adds ``latest_assessment_id``, ``latest_outcome`` (None when never assessed),
    ``latest_monthly_cost`` (Decimal) and ``latest_assessed_at``.
    """
    latest = Assessment.objects.filter(use_case=OuterRef("pk")).order_by(
        "-created_at", "-pk"
    )
    return use_cases.annotate(
        latest_assessment_id=Subquery(latest.values("pk")[:1]),
        latest_outcome=Subquery(latest.values("outcome")[:1]),
        latest_monthly_cost=Subquery(latest.values("monthly_cost")[:1]),
        latest_assessed_at=Subquery(latest.values("created_at")[:1]),
    )


def with_latest_recommendation_label(use_cases: QuerySet[UseCase]) -> QuerySet[UseCase]:
    """`with_latest_assessment` plus ``latest_outcome_label`` (for the list pages)."""
    return with_latest_assessment(use_cases).annotate(
        latest_outcome_label=Case(
            *(
                When(latest_outcome=value, then=Value(label))
                for value, label in Outcome.choices
            ),
            default=Value(""),
            output_field=models.CharField(),
        )
    )


def latest_assessment_prefetch(to_attr: str = "latest_assessments") -> Prefetch:
    """Prefetch each use-case's latest Assessment into a list (one query)."""
    return Prefetch(
        "assessments",
        queryset=Assessment.objects.latest_per_use_case().select_related(
            "policy_version"
        ),
        to_attr=to_attr,
    )
