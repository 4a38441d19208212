"""The board's writes: start a review, decide, comment. Each is one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from django.db import transaction

from apps.usecases import lifecycle
from apps.usecases.models import AuditEvent, Transition, UseCase
from apps.usecases.services import transition_use_case

from . import assessments, notifications
from .models import Comment, Decision

if TYPE_CHECKING:
    from apps.accounts.models import User

S = UseCase.Status


class CommentForbidden(PermissionError):
    """The user may read the thread but not write in it (or not internally)."""


def may_decide(user: User) -> bool:
    return user.has_role("board")


def may_comment(use_case: UseCase, user: User, *, internal: bool = False) -> bool:
    """The board comments and writes internal notes; the owner answers in public."""
    if may_decide(user):
        return True
    return not internal and use_case.owner_id == user.pk


def start_review(*, use_case: UseCase, by: User) -> Transition:
    """Take a submitted use-case into review."""
    return transition_use_case(
        use_case=use_case, to_status=S.IN_REVIEW, by=by, comment="Review started."
    )


def decide_use_case(
    *,
    use_case: UseCase,
    by: User,
    outcome: str,
    pattern: str = "",
    chosen_models: Sequence[str] = (),
    conditions: Sequence[str] = (),
    comment: str = "",
    overrule_reason: str = "",
) -> Decision:
    """Record the board's decision and move the use-case to match, atomically.

    A submitted use-case is taken into review first. Raises `ValidationError` with
    field errors (a missing pattern, an overrule without a reason) and
    `lifecycle.TransitionError` for a move the lifecycle does not allow.
    """
    if not may_decide(by):
        raise lifecycle.TransitionForbidden("Only the architecture board decides.")
    decision = Decision(
        use_case=use_case,
        outcome=outcome,
        pattern=pattern,
        recommended_pattern=assessments.recommended_pattern(use_case),
        overrule_reason=overrule_reason.strip(),
        chosen_models=[m.strip() for m in chosen_models if m.strip()],
        conditions=[c.strip() for c in conditions if c.strip()],
        comment=comment.strip(),
        decided_by=by,
    )
    decision.full_clean(exclude=["use_case", "transition", "decided_by"])
    with transaction.atomic():
        if use_case.status == S.SUBMITTED:
            start_review(use_case=use_case, by=by)
        decision.transition = transition_use_case(
            use_case=use_case, to_status=outcome, by=by, comment=decision.comment
        )
        decision.save()
        AuditEvent.record(
            kind="reviews.decision",
            summary=f"Board decision: {decision.outcome_label.lower()}"
            + (f", {decision.get_pattern_display().lower()}" if pattern else ""),
            actor=by,
            use_case=use_case,
            data={
                "decision_id": decision.pk,
                "outcome": decision.outcome,
                "pattern": decision.pattern,
                "recommended_pattern": decision.recommended_pattern,
                "conditions": decision.conditions,
            },
        )
    return decision


def add_comment(
    *, use_case: UseCase, by: User, body: str, internal: bool = False
) -> Comment:
    """Add to the review thread; mentioned people who may read it are emailed."""
    if not may_comment(use_case, by, internal=internal):
        raise CommentForbidden("You may not comment on this review.")
    with transaction.atomic():
        comment = Comment.objects.create(
            use_case=use_case, author=by, body=body.strip(), internal=internal
        )
        if comment.mentioned_usernames():
            transaction.on_commit(
                partial(notifications.send_mention_notices, comment_id=comment.pk)
            )
    return comment
