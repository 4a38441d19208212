"""The one place that decides whether a user may read or change an endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import ServingEndpoint

if TYPE_CHECKING:
    from apps.accounts.models import User


def can_manage_endpoints(user: User) -> bool:
    """Platform (and superusers) register and change endpoints."""
    return user.is_active and user.has_perm("endpoints.change_servingendpoint")


def get_endpoint_for(
    user: User, pk: int | str, *, write: bool = False
) -> ServingEndpoint:
    """The endpoint if the user may see it, else 404; with ``write``, 403 unless
    the user manages endpoints."""
    try:
        endpoint = ServingEndpoint.objects.visible_to(user).get(pk=pk)
    except (ServingEndpoint.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such endpoint.") from exc
    if write and not can_manage_endpoints(user):
        raise PermissionDenied("Only the ML platform team changes endpoints.")
    return endpoint
