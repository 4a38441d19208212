"""Who may see and manage a use-case's gateway keys: one rule for pages and API.

- Manage (issue, revoke): the use-case's owner, platform, superusers.
- See (names, prefixes, limits, last use; never a secret): those, plus the
  owner's team, the board and auditors, who oversee what runs.
- Anyone else who can see the use-case is refused (403); anyone who cannot see
  it gets 404, so its existence does not leak.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.http import Http404

from apps.accounts.roles import Role
from apps.usecases.access import get_use_case_for

from .models import GatewayKey

if TYPE_CHECKING:
    from apps.accounts.models import User
    from apps.usecases.models import UseCase

MANAGE_MESSAGE = "Only the use-case's owner or the ML platform team manages its keys."
VIEW_MESSAGE = (
    "Gateway keys are shown to the use-case's owner and team, platform, "
    "the board and auditors."
)


def may_manage_keys(user: User, use_case: UseCase) -> bool:
    if not user.is_active:
        return False
    return use_case.owner_id == user.pk or user.has_role(Role.PLATFORM)


def may_view_keys(user: User, use_case: UseCase) -> bool:
    if may_manage_keys(user, use_case):
        return True
    if user.team_id is not None and user.team_id == use_case.team_id:
        return user.is_active
    return user.has_role(Role.BOARD, Role.AUDITOR)


def get_use_case_keys_for(
    user: User, pk: int | str, *, manage: bool = False
) -> UseCase:
    """The use-case if the user may see (with ``manage``: manage) its keys.

    404 when the user cannot see the use-case, 403 when they can but not its keys.
    """
    use_case = get_use_case_for(user, pk)
    allowed = may_manage_keys if manage else may_view_keys
    if not allowed(user, use_case):
        raise PermissionDenied(MANAGE_MESSAGE if manage else VIEW_MESSAGE)
    return use_case


def get_gateway_key_for(
    user: User, use_case_pk: int | str, key_pk: int | str, *, manage: bool = False
) -> GatewayKey:
    """One key of the use-case, after the same checks; 404 for another's key."""
    use_case = get_use_case_keys_for(user, use_case_pk, manage=manage)
    try:
        key = GatewayKey.objects.get(use_case=use_case, pk=key_pk)
    except (GatewayKey.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such gateway key.") from exc
    key.use_case = use_case  # already loaded, with owner and team
    return key
