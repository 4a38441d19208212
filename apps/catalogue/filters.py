"""One FilterSet for the catalogue: the page and the API share it."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from .models import HOSTING_CHOICES, CatalogModel


class CatalogModelFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    capability_tier = django_filters.MultipleChoiceFilter(
        choices=CatalogModel.Tier.choices, label="Tier"
    )
    provider = django_filters.CharFilter(lookup_expr="iexact")
    open_weights = django_filters.BooleanFilter()
    hosting = django_filters.ChoiceFilter(
        choices=HOSTING_CHOICES, method="hosted_as", label="Hosting"
    )
    active = django_filters.BooleanFilter()

    class Meta:
        model = CatalogModel
        fields = ["q", "capability_tier", "provider", "open_weights", "hosting"]

    def search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(
            Q(name__icontains=value)
            | Q(key__icontains=value)
            | Q(provider__icontains=value)
        )

    def hosted_as(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # `hosting` is a JSON list; matching the quoted item works on SQLite and
        # PostgreSQL alike (the `contains` lookup does not exist on SQLite).
        return queryset.filter(hosting__icontains=f'"{value}"')
