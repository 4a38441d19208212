"""The one place that decides whether a user may read or change a use-case."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import Http404

from .models import UseCase

if TYPE_CHECKING:
    from apps.accounts.models import User


def get_use_case_for(user: User, pk: int | str, *, write: bool = False) -> UseCase:
    """The use-case if the user may see it (and edit it, with `write`), else 404.

    404 rather than 403, so that a use-case's existence does not leak.
    """
    queryset = UseCase.objects.visible_to(user).select_related("owner", "team")
    if write:
        queryset = queryset.editable_by(user)
    try:
        return queryset.get(pk=pk)
    except (UseCase.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such use-case.") from exc
