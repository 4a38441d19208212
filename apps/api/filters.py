"""Query filters that refuse what the schema does not admit.

django-filter's ``BooleanFilter`` reads ``?enabled=maybe`` as no filter at all and
its ``CharFilter`` says only "a string"; the schema promised a boolean, or a date.
These say in the schema what they accept and answer anything else with a 400.
DRF's ``OrderingFilter`` likewise ignores ``?ordering=nonsense``; the API's
viewsets use :data:`FILTER_BACKENDS`, whose ordering refuses it.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter, SearchFilter


class StrictBooleanField(forms.Field):
    """``true`` or ``false`` (as the schema's boolean is written in a query)."""

    widget = forms.TextInput

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        if value in ("true", "false"):
            return value == "true"
        raise forms.ValidationError("Give true or false.", code="invalid")


@extend_schema_field(OpenApiTypes.BOOL)
class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


@extend_schema_field(
    {
        "anyOf": [
            {"type": "string", "format": "date"},
            {"type": "string", "format": "date-time"},
        ]
    }
)
class MomentFilter(django_filters.CharFilter):
    """A date (whole UTC days) or an ISO 8601 date-time; the method parses it."""


class StrictOrderingFilter(OrderingFilter):
    """DRF's ordering, except that a field it cannot sort by is a 400, not ignored.

    The schema lists the fields (each also with ``-`` for descending) as an enum,
    so a client learns the choices from it and a typo is an error, as with every
    other query parameter of the API.
    """

    def get_ordering(self, request, queryset, view):  # type: ignore[no-untyped-def]
        params = request.query_params.get(self.ordering_param)
        if params:
            terms = [term.strip() for term in params.split(",")]
            valid = self.remove_invalid_fields(queryset, terms, view, request)
            if len(valid) != len(terms):
                choices = ", ".join(ordering_choices(view))
                raise ValidationError(
                    {self.ordering_param: [f"Order by one of: {choices}."]}
                )
            return valid
        return self.get_default_ordering(view)

    def get_schema_operation_parameters(self, view):  # type: ignore[no-untyped-def]
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "The field to order by; `-` first for descending; "
                "several separated by commas. Any other field is a 400.",
                "schema": {"type": "string", "enum": ordering_choices(view)},
            }
        ]


def ordering_choices(view: Any) -> list[str]:
    """The view's ``ordering_fields``, each ascending and descending."""
    fields = [f if isinstance(f, str) else f[0] for f in view.ordering_fields]
    return [term for field in fields for term in (field, f"-{field}")]


# The API's filter backends (``StrictOrderingFilter`` in place of DRF's).
FILTER_BACKENDS = [DjangoFilterBackend, StrictOrderingFilter, SearchFilter]
