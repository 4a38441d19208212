"""Who reads lifecycle flags and comparisons: whoever may see the use-case."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import Http404

from .models import Comparison

if TYPE_CHECKING:
    from apps.accounts.models import User


def get_comparison_for(user: User, pk: int) -> Comparison:
    """The comparison, if ``user`` may see its use-case; 404 otherwise."""
    comparison = (
        Comparison.objects.visible_to(user)
        .select_related("use_case", "candidate_model", "started_by")
        .filter(pk=pk)
        .first()
    )
    if comparison is None:
        raise Http404("No such comparison.")
    return comparison
