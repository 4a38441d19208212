"""The use-case page's opening banner, from what this app knows: the status and
who is reading. Apps to the right register fuller answers (panels.register_next_step)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import reverse

from apps.accounts.roles import Role

from .models import UseCase
from .panels import NextStep

if TYPE_CHECKING:
    from apps.accounts.models import User

Status = UseCase.Status


def own_next_step(user: User, use_case: UseCase) -> NextStep | None:
    """Whose move it is, by status alone."""
    owner = use_case.owner_id == user.pk
    status = use_case.status
    if status == Status.DRAFT:
        if use_case.can_edit(user):
            return NextStep(
                "Your move: finish the request and submit it for review",
                ("The architecture board sees it once it is submitted.",),
                action=(
                    "Edit the request",
                    reverse("usecases:edit", args=[use_case.pk]),
                ),
                yours=True,
            )
        return NextStep("The owner's move: this request is still a draft")
    if status in (Status.SUBMITTED, Status.IN_REVIEW):
        if user.has_role(Role.BOARD):
            return None  # reviews answers for the board
        return NextStep(
            "The board's move: the request is with the architecture board",
            ("Nothing to do now; the owner hears as soon as the board decides.",)
            if owner
            else (),
        )
    if status == Status.CHANGES_REQUESTED:
        return NextStep(
            "Your move: the board asked for changes"
            if owner
            else "The owner's move: the board asked for changes",
            yours=owner,
        )
    if status == Status.REJECTED:
        return NextStep("Rejected by the architecture board: nothing more to do")
    if status == Status.RETIRED:
        return NextStep("Retired: no longer in use")
    return None
