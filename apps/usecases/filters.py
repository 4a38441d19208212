"""One FilterSet for the use-case lists: the pages and the API share it."""

import django_filters
from django.db.models import Q

from apps.accounts.models import Team

from .models import DataClassification, UseCase


class UseCaseFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    status = django_filters.MultipleChoiceFilter(choices=UseCase.Status.choices)
    team = django_filters.ModelChoiceFilter(queryset=Team.objects.all())
    data_classification = django_filters.MultipleChoiceFilter(
        choices=DataClassification.choices, label="Classification"
    )
    ordering = django_filters.OrderingFilter(
        fields=(
            ("updated_at", "updated_at"),
            ("created_at", "created_at"),
            ("title", "title"),
            ("requests_per_day", "requests_per_day"),
            ("status", "status"),
        ),
        label="Sort by",
    )

    class Meta:
        model = UseCase
        fields = ["q", "status", "team", "data_classification"]

    def search(self, queryset, name, value):  # type: ignore[no-untyped-def]
        return queryset.filter(
            Q(title__icontains=value) | Q(description__icontains=value)
        )
