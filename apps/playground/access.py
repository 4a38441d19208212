"""Who may attach playground evidence to a use-case.

Reading follows `PlaygroundRun.objects.visible_to` and `TestSet.objects.visible_to`:
a run or a test set may hold more than the use-case list shows (a system prompt,
sample inputs), so a requester reads only those of their own and their team's
use-cases; the board, platform, procurement and auditors read all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from apps.usecases.models import UseCase, UseCaseQuerySet

if TYPE_CHECKING:
    from apps.accounts.models import User

REVIEW_PERMISSION = "usecases.review_usecase"


class AttachForbidden(PermissionError):
    """The user may see the use-case but has no right to add evidence to it."""


def may_attach_evidence(user: User, use_case: UseCase) -> bool:
    """Evidence is added by whoever may edit the use-case (its owner) or review it
    (the board); seeing a use-case is not enough."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or use_case.owner_id == user.pk:
        return True
    return user.has_perm(REVIEW_PERMISSION)


def evidence_use_cases(user: User) -> UseCaseQuerySet:
    """The use-cases ``user`` may attach a run to (for the attach form's choices)."""
    visible = UseCase.objects.visible_to(user)
    if user.is_superuser or user.has_perm(REVIEW_PERMISSION):
        return visible
    return visible.filter(owner=user)
