"""The use-case page's banner when the board is involved: what it asked for, its
open conditions, and the reviewer's or platform's next step."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.urls import reverse

from apps.accounts.roles import Role
from apps.usecases.models import UseCase
from apps.usecases.panels import NextStep

from .models import Decision

if TYPE_CHECKING:
    from apps.accounts.models import User

Status = UseCase.Status


def board_next_step(user: User, use_case: UseCase) -> NextStep | None:
    status = use_case.status
    owner = use_case.owner_id == user.pk
    review_url = reverse("reviews:review", args=[use_case.pk])
    if status in (Status.SUBMITTED, Status.IN_REVIEW) and user.has_role(Role.BOARD):
        if status == Status.SUBMITTED:
            return NextStep(
                "Your move: start the board's review",
                ("The request is waiting for a reviewer.",),
                action=("Open the review", review_url),
                yours=True,
            )
        return NextStep(
            "Your move: decide",
            ("Approve, request changes or reject; you confirm before it is recorded.",),
            action=("Open the review", review_url),
            yours=True,
        )
    if status not in (Status.CHANGES_REQUESTED, Status.APPROVED, Status.LIVE):
        return None
    decision = (
        Decision.objects.filter(use_case=use_case).order_by("created_at", "pk").last()
    )
    if decision is None:
        return None
    conditions = tuple(str(c) for c in decision.conditions or ())
    if status == Status.CHANGES_REQUESTED:
        lines = (f"The board asked: “{decision.comment}”",) if decision.comment else ()
        if owner or use_case.can_edit(user):
            return NextStep(
                "Your move: the board asked for changes",
                lines + (("Conditions still open:",) if conditions else ()),
                conditions,
                action=(
                    "Edit and resubmit",
                    reverse("usecases:edit", args=[use_case.pk]),
                ),
                yours=True,
            )
        return NextStep(
            "The owner's move: the board asked for changes", lines, conditions
        )
    # Approved or live.
    if status == Status.APPROVED and user.has_role(Role.PLATFORM):
        return NextStep(
            "Your move: map this use-case's live traffic",
            (
                "Map the models it calls on a serving endpoint to this use-case, so "
                "usage and spend are counted against it.",
            ),
            conditions,
            action=("Open the endpoints", reverse("endpoints:list")),
            yours=True,
        )
    if conditions:
        return NextStep(
            f"{decision.outcome_label}: conditions the board set",
            (),
            conditions,
            yours=owner,
        )
    return None
