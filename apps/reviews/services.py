"""The board's writes: start a review, decide, comment. Each is one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.risk import services as risk_services
from apps.usecases import lifecycle
from apps.usecases.models import AuditEvent, Transition, UseCase
from apps.usecases.services import record_decision_outcome, transition_use_case

from . import assessments, notifications
from . import conditions as condition_tasks
from .models import IN_FORCE, Comment, Decision, ReviewAssignment, current_approval
from .routing import route_support

if TYPE_CHECKING:
    from apps.accounts.models import User

S = UseCase.Status
AMENDED = "Routes amended"


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
    conditions: Sequence[str | Mapping[str, Any]] = (),
    comment: str = "",
    overrule_reason: str = "",
    routes: Any = None,
) -> Decision:
    """Record the board's decision and move the use-case to match, atomically.

    A submitted use-case is taken into review first. An approval on a use-case
    already approved or live amends its routes instead (:func:`amend_routes`).
    Raises `ValidationError` with field errors (a missing pattern, an overrule
    without a reason, invalid routes) and `lifecycle.TransitionError` for a move
    the lifecycle does not allow.

    Conditions are strings (“text | 2026-12-31 | before go-live | @owner”) or
    objects; each becomes a tracked task. An approval needs every approval stage
    the risk policy requires to have approved, and never passes a prohibited
    practice (a field error on `outcome`).
    """
    if not may_decide(by):
        raise lifecycle.TransitionForbidden("Only the architecture board decides.")
    if outcome == Decision.Outcome.APPROVED and use_case.status in IN_FORCE:
        errors: dict[str, Any] = {}
        specs = _condition_specs(conditions, errors)
        if errors:
            raise ValidationError(errors)
        return _amend_from_decision(
            use_case=use_case,
            by=by,
            routes=routes,
            comment=comment,
            pattern=pattern,
            chosen_models=chosen_models,
            conditions=[spec.text for spec in specs],
            overrule_reason=overrule_reason,
        )
    decision, specs = _checked_decision(
        use_case=use_case,
        by=by,
        outcome=outcome,
        pattern=pattern,
        chosen_models=chosen_models,
        conditions=conditions,
        comment=comment,
        overrule_reason=overrule_reason,
        routes=routes,
    )
    with transaction.atomic():
        if use_case.status == S.SUBMITTED:
            start_review(use_case=use_case, by=by)
        decision.transition = record_decision_outcome(
            use_case=use_case, outcome=outcome, by=by, comment=decision.comment
        )
        decision.save()
        if outcome == Decision.Outcome.APPROVED:
            condition_tasks.create_condition_tasks(decision=decision, specs=specs)
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
                "routes": decision.routes,
            },
        )
    return decision


def preview_decision(
    *,
    use_case: UseCase,
    by: User,
    outcome: str,
    pattern: str = "",
    chosen_models: Sequence[str] = (),
    conditions: Sequence[str | Mapping[str, Any]] = (),
    comment: str = "",
    overrule_reason: str = "",
    routes: Any = None,
) -> Decision:
    """The decision as it would be recorded, checked but not saved: the page shows
    it for the board to confirm. Raises `ValidationError` as `decide_use_case` does."""
    decision, _specs = _checked_decision(
        use_case=use_case,
        by=by,
        outcome=outcome,
        pattern=pattern,
        chosen_models=chosen_models,
        conditions=conditions,
        comment=comment,
        overrule_reason=overrule_reason,
        routes=routes,
    )
    return decision


def _condition_specs(
    conditions: Sequence[str | Mapping[str, Any]], errors: dict[str, Any]
) -> list[condition_tasks.ConditionSpec]:
    try:
        return condition_tasks.specs_from(conditions)
    except ValidationError as exc:
        exc.update_error_dict(errors)
        return []


def _checked_decision(
    *,
    use_case: UseCase,
    by: User,
    outcome: str,
    pattern: str,
    chosen_models: Sequence[str],
    conditions: Sequence[str | Mapping[str, Any]],
    comment: str,
    overrule_reason: str,
    routes: Any,
) -> tuple[Decision, list[condition_tasks.ConditionSpec]]:
    """Every check of a decision, the risk gate included; nothing saved."""
    errors: dict[str, Any] = {}
    specs = _condition_specs(conditions, errors)
    if outcome == Decision.Outcome.APPROVED:
        blockers = risk_services.approval_blockers(use_case)
        if blockers:
            errors["outcome"] = blockers
    decision = Decision(
        use_case=use_case,
        outcome=outcome,
        pattern=pattern,
        recommended_pattern=assessments.recommended_pattern(use_case),
        overrule_reason=overrule_reason.strip(),
        chosen_models=[m.strip() for m in chosen_models if m.strip()],
        conditions=[spec.text for spec in specs],
        comment=comment.strip(),
        decided_by=by,
    )
    try:
        decision.full_clean(exclude=["use_case", "transition", "decided_by", "routes"])
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if routes and outcome != Decision.Outcome.APPROVED:
        errors["routes"] = ["routes: only an approval carries routes."]
    else:
        try:
            decision.routes = _validated_routes(routes, use_case=use_case)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
    return decision, specs


def _validated_routes(routes: Any, *, use_case: UseCase) -> list[dict[str, Any]]:
    if routes is None or routes == []:
        return []
    support = route_support()
    if support is None:
        raise ValidationError({"routes": ["routes: the gateway is not installed."]})
    return support.validate(routes, use_case=use_case)


def _amend_from_decision(
    *,
    use_case: UseCase,
    by: User,
    routes: Any,
    comment: str,
    pattern: str,
    chosen_models: Sequence[str],
    conditions: Sequence[str],
    overrule_reason: str,
) -> Decision:
    """An approval posted again: only its routes (and a message) may change."""
    current = current_approval(use_case)
    errors: dict[str, list[str]] = {}
    if routes is None:
        errors["routes"] = [
            "routes: this use-case is already approved; an approval now amends its "
            "routes, so give them (an empty list removes them)."
        ]
    if current is not None:
        kept = {
            "pattern": (pattern, current.pattern, ""),
            "chosen_models": (list(chosen_models), current.chosen_models, []),
            "conditions": (list(conditions), current.conditions, []),
            "overrule_reason": (overrule_reason, current.overrule_reason, ""),
        }
        changed = [
            name
            for name, (given, in_force, blank) in kept.items()
            if given != blank and given != in_force
        ]
        if changed:
            # A conflict with the use-case's state, not bad input: 409.
            raise lifecycle.TransitionError(
                "This use-case is approved already: an approval now only amends its "
                f"routes, so {', '.join(changed)} stay as approved. To change them, "
                "request changes first. Nothing was recorded."
            )
    if errors:
        raise ValidationError(errors)
    return amend_routes(use_case=use_case, by=by, routes=routes, comment=comment)


def amend_routes(
    *, use_case: UseCase, by: User, routes: Any, comment: str = ""
) -> Decision:
    """Change the routes of an approved or live use-case: a new approval with the
    same pattern, models and conditions and the new routes, without a move.

    Raises `ValidationError` for invalid routes and `lifecycle.TransitionError`
    when no approval is in force or the routes are those in force already.
    """
    if not may_decide(by):
        raise lifecycle.TransitionForbidden("Only the architecture board decides.")
    normalised = _validated_routes(routes, use_case=use_case)
    message = comment.strip()
    with transaction.atomic():
        locked = UseCase.objects.select_for_update().get(pk=use_case.pk)
        current = current_approval(locked)
        if current is None:
            raise lifecycle.TransitionError(
                "Routes are amended on an approved or live use-case; this one is "
                f"{locked.get_status_display().lower()}."
            )
        if normalised == current.routes:
            # Nothing to amend: a conflict with the state, not bad input.
            raise lifecycle.TransitionError(
                "These are the routes in force already: nothing was recorded."
            )
        decision = Decision.objects.create(
            use_case=locked,
            outcome=Decision.Outcome.APPROVED,
            pattern=current.pattern,
            recommended_pattern=current.recommended_pattern,
            overrule_reason=current.overrule_reason,
            chosen_models=current.chosen_models,
            conditions=current.conditions,
            routes=normalised,
            comment=f"{AMENDED}: {message}" if message else AMENDED,
            decided_by=by,
        )
        AuditEvent.record(
            kind="reviews.routes_amended",
            summary="Board amended the routes",
            actor=by,
            use_case=locked,
            data={
                "decision_id": decision.pk,
                "amends": current.pk,
                "routes": normalised,
                "previous_routes": current.routes,
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


def assign_reviewer(*, use_case: UseCase, reviewer: User, by: User) -> ReviewAssignment:
    """Make a board member the use-case's reviewer (replacing any other)."""
    if not may_decide(by) or not may_decide(reviewer):
        raise lifecycle.TransitionForbidden(
            "Only the architecture board assigns reviewers, from the board."
        )
    assignment, _ = ReviewAssignment.objects.update_or_create(
        use_case=use_case, defaults={"reviewer": reviewer, "assigned_by": by}
    )
    return assignment
