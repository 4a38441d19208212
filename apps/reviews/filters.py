"""The review queue's filters and sorting (page only; the API lists use-cases)."""

from __future__ import annotations

from datetime import timedelta

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.accounts.models import Team
from apps.usecases.models import DataClassification, UseCase

from .models import Pattern

QUEUE_STATUSES = (UseCase.Status.SUBMITTED, UseCase.Status.IN_REVIEW)
AGES = [
    ("3", "Waiting 3+ days"),
    ("7", "Waiting 7+ days"),
    ("14", "Waiting 14+ days"),
    ("30", "Waiting 30+ days"),
]
# ordering parameter -> model field or annotation
SORTS = {
    "submitted": "submitted_at",
    "title": "title",
    "team": "team__name",
    "classification": "data_classification",
    "volume": "requests_per_day",
    "recommendation": "latest_outcome",
    "cost": "latest_monthly_cost",
}


class QueueFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    assigned = django_filters.ChoiceFilter(
        choices=[("me", "Assigned to me"), ("nobody", "Not assigned")],
        method="assigned_to",
        label="Reviewer",
        empty_label="Anyone",
    )
    status = django_filters.MultipleChoiceFilter(
        choices=[(s.value, s.label) for s in QUEUE_STATUSES]
    )
    team = django_filters.ModelChoiceFilter(
        queryset=Team.objects.all(), empty_label="Any"
    )
    data_classification = django_filters.MultipleChoiceFilter(
        choices=DataClassification.choices, label="Classification"
    )
    outcome = django_filters.ChoiceFilter(
        field_name="latest_outcome",
        choices=Pattern.choices,
        label="Recommendation",
        empty_label="Any",
    )
    age = django_filters.ChoiceFilter(
        choices=AGES, method="waiting", label="Age", empty_label="Any"
    )
    ordering = django_filters.OrderingFilter(
        fields=[(field, param) for param, field in SORTS.items()], label="Sort by"
    )

    class Meta:
        model = UseCase
        fields = ["status", "team", "data_classification"]

    def search(self, queryset: QuerySet[UseCase], name: str, value: str):  # type: ignore[no-untyped-def]
        """Words of the title, description, team or owner, each matching somewhere."""
        for word in value.split()[:8]:
            queryset = queryset.filter(
                Q(title__icontains=word)
                | Q(description__icontains=word)
                | Q(team__name__icontains=word)
                | Q(owner__username__icontains=word)
                | Q(owner__first_name__icontains=word)
                | Q(owner__last_name__icontains=word)
            )
        return queryset

    def assigned_to(self, queryset: QuerySet[UseCase], name: str, value: str):  # type: ignore[no-untyped-def]
        if value == "nobody":
            return queryset.filter(review_assignment__isnull=True)
        return queryset.filter(review_assignment__reviewer=self.request.user)

    def waiting(self, queryset: QuerySet[UseCase], name: str, value: str):  # type: ignore[no-untyped-def]
        cutoff = timezone.now() - timedelta(days=int(value))
        return queryset.filter(submitted_at__lte=cutoff)
