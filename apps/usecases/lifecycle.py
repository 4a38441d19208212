"""The use-case lifecycle as a small state machine: who may move what, where."""

from __future__ import annotations

from collections.abc import Callable

from apps.accounts.roles import Role

from .models import UseCase

S = UseCase.Status
OWNER = "owner"  # pseudo-role: the use-case's own business owner

# (from, to) -> who may make the move. Anything not listed is illegal.
TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (S.DRAFT, S.SUBMITTED): frozenset({OWNER}),
    (S.CHANGES_REQUESTED, S.SUBMITTED): frozenset({OWNER}),
    (S.SUBMITTED, S.IN_REVIEW): frozenset({Role.BOARD}),
    (S.IN_REVIEW, S.APPROVED): frozenset({Role.BOARD}),
    (S.IN_REVIEW, S.REJECTED): frozenset({Role.BOARD}),
    (S.IN_REVIEW, S.CHANGES_REQUESTED): frozenset({Role.BOARD}),
    (S.APPROVED, S.LIVE): frozenset({OWNER, Role.PLATFORM}),
    (S.APPROVED, S.RETIRED): frozenset({OWNER, Role.PLATFORM}),
    (S.LIVE, S.RETIRED): frozenset({OWNER, Role.PLATFORM}),
}

# Outcomes of a board decision: reached only through the decision service, which
# records the Decision (pattern, overrule reason, conditions, routes) in the same
# transaction. The generic transition refuses them.
DECISION_OUTCOMES = frozenset({S.APPROVED, S.REJECTED, S.CHANGES_REQUESTED})

# Wording for buttons, keyed by target status.
ACTION_LABELS = {
    S.SUBMITTED: "Submit for review",
    S.IN_REVIEW: "Start review",
    S.APPROVED: "Approve",
    S.REJECTED: "Reject",
    S.CHANGES_REQUESTED: "Request changes",
    S.LIVE: "Mark live",
    S.RETIRED: "Retire",
}


class TransitionError(Exception):
    """A move the lifecycle does not allow from the current status."""


class TransitionForbidden(TransitionError):
    """A legal move that this actor may not make."""


class DecisionRequired(TransitionError):
    """A move to a decision outcome attempted without recording a decision."""

    def __init__(self, to_status: str) -> None:
        self.to_status = to_status
        super().__init__(
            f"Moving a use-case to {S(to_status).label.lower()} is a board decision: "
            "record it with the decision form (or the API's decision endpoint), "
            "which keeps the pattern, conditions and routes with it."
        )


# Checks that apps to the right add to a move (e.g. reviews: no going live with an
# open pre-go-live condition); each raises TransitionError to refuse it.
_GUARDS: dict[str, Callable[[UseCase, str], None]] = {}


def register_guard(name: str, guard: Callable[[UseCase, str], None]) -> None:
    _GUARDS[name] = guard


def run_guards(use_case: UseCase, to_status: str) -> None:
    for guard in _GUARDS.values():
        guard(use_case, to_status)


def is_legal(from_status: str, to_status: str) -> bool:
    return (from_status, to_status) in TRANSITIONS


def actor_may(use_case: UseCase, to_status: str, user) -> bool:  # type: ignore[no-untyped-def]
    allowed = TRANSITIONS.get((use_case.status, to_status))
    if not allowed:
        return False
    if user.is_superuser:
        return True
    if OWNER in allowed and use_case.owner_id == user.pk:
        return True
    return user.has_role(*(a for a in allowed if a != OWNER))


def check(use_case: UseCase, to_status: str, user) -> None:  # type: ignore[no-untyped-def]
    if to_status not in S.values:
        raise TransitionError(f"“{to_status}” is not a use-case status.")
    if not is_legal(use_case.status, to_status):
        raise TransitionError(
            f"A use-case that is {use_case.get_status_display().lower()} cannot move "
            f"to {S(to_status).label.lower()}."
        )
    if not actor_may(use_case, to_status, user):
        raise TransitionForbidden(
            f"You may not move this use-case to {S(to_status).label.lower()}."
        )


def available_transitions(use_case: UseCase, user) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(status, button label) for each generic move this user may make now.

    Decision outcomes are left out: the board decides on the review page.
    """
    return [
        (to, ACTION_LABELS[to])
        for (frm, to) in TRANSITIONS
        if frm == use_case.status
        and to not in DECISION_OUTCOMES
        and actor_may(use_case, to, user)
    ]
