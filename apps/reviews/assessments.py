"""The framework's assessments as the board sees them: recommendation and diff.

A thin adapter over apps.framework, so the queue, the review page and the decision
read the recommendation in one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from apps.catalogue.models import CatalogModel
from apps.framework.diff import AssessmentDiff, diff_assessments
from apps.framework.models import Assessment, with_latest_assessment
from apps.risk.models import ApprovalStage, StageStatus
from apps.usecases.models import UseCase


@dataclass(frozen=True)
class ReviewAssessment:
    """The latest assessment, the one before it, and what changed between them."""

    latest: Assessment
    previous: Assessment | None
    diff: AssessmentDiff | None

    @property
    def recommendation(self) -> str:
        return self.latest.outcome


def annotate_queue(queryset: QuerySet[UseCase]) -> QuerySet[UseCase]:
    """Adds `latest_outcome`, `latest_monthly_cost` and `open_stages` (the
    approval stages not yet approved; subqueries, no extra query)."""
    pending = (
        # Stages of the present submission: opened when it was submitted.
        ApprovalStage.objects.filter(
            use_case=OuterRef("pk"), created_at__gte=OuterRef("submitted_at")
        )
        .exclude(status=StageStatus.APPROVED)
        .order_by()
        .values("use_case")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return with_latest_assessment(queryset).annotate(
        open_stages=Coalesce(Subquery(pending), 0)
    )


def recommended_pattern(use_case: UseCase) -> str:
    """The latest assessment's outcome, "" when never assessed."""
    return (
        Assessment.objects.filter(use_case=use_case)
        .newest_first()
        .values_list("outcome", flat=True)
        .first()
        or ""
    )


def for_review(use_case: UseCase) -> ReviewAssessment | None:
    """The two newest assessments (one query, however many exist)."""
    latest, *rest = list(
        Assessment.objects.filter(use_case=use_case)
        .select_related("policy_version", "created_by")
        .newest_first()[:2]
    ) or [None]
    if latest is None:
        return None
    previous = rest[0] if rest else None
    return ReviewAssessment(
        latest=latest,
        previous=previous,
        diff=diff_assessments(previous, latest) if previous else None,
    )


def catalogue_model_names() -> list[str]:
    """Names for the chosen-models suggestions."""
    return list(
        CatalogModel.objects.active().order_by("name").values_list("name", flat=True)
    )
