"""The data guard: whether a prompt's data may go to endpoints outside our infrastructure.

The user states what they type (classification, special categories, "must stay
in-house") or picks a use-case whose profile decides; the framework's current
policy says which classifications and categories may not leave. Either can keep
the data in-house. Until the data is stated, nothing may leave.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from apps.framework.engine.policy import Policy as EnginePolicy
from apps.usecases.models import AuditEvent, DataClassification, UseCase

if TYPE_CHECKING:
    from apps.accounts.models import User

EXTERNAL = "external"


@dataclass(frozen=True)
class DataDeclaration:
    """What the user said about the data they type, or the use-case that decides."""

    classification: str = ""
    special_categories: tuple[str, ...] = ()
    must_stay_in_infrastructure: bool = False
    use_case: UseCase | None = None

    @classmethod
    def of_use_case(cls, use_case: UseCase) -> DataDeclaration:
        return cls(
            classification=use_case.data_classification,
            special_categories=tuple(use_case.special_categories or ()),
            must_stay_in_infrastructure=use_case.must_stay_in_infrastructure,
            use_case=use_case,
        )

    @property
    def is_stated(self) -> bool:
        return self.classification in DataClassification.values

    def may_leave(self) -> bool:
        """Whether this data may be sent to ``external`` endpoints."""
        if not self.is_stated:
            return False
        blocked_categories, blocked_classifications = blocked_sets()
        profile = self.use_case or UseCase(
            data_classification=self.classification,
            special_categories=list(self.special_categories),
            must_stay_in_infrastructure=self.must_stay_in_infrastructure,
        )
        return profile.may_leave_infrastructure(
            blocked_categories=blocked_categories,
            blocked_classifications=blocked_classifications,
        )

    def describe(self) -> str:
        """The data in words, for messages and the audit trail."""
        if not self.is_stated:
            return "data whose classification was not stated"
        label = DataClassification(self.classification).label.lower()
        extras = list(self.special_categories)
        if self.must_stay_in_infrastructure:
            extras.append("marked to stay in our infrastructure")
        text = f"{label} data" + (f" ({', '.join(extras)})" if extras else "")
        if self.use_case is not None:
            text += f" of use-case “{self.use_case.title}”"
        return text


def blocked_sets() -> tuple[set[str], set[str]]:
    """(categories, classifications) that may not leave, from the current policy
    (kept in each process until a policy is recorded: it is on the path to the
    first token)."""
    from .snapshot import blocked_sets as cached

    return cached()


def read_blocked_sets() -> tuple[set[str], set[str]]:
    """:func:`blocked_sets` read from the database.

    The framework's stored policy when there is one, else the engine's defaults
    (restricted; health, government and indigenous data).
    """
    policy = EnginePolicy()
    try:
        from apps.framework.models import Policy
    except ImportError:  # the framework's models are optional to this app
        Policy = None
    if Policy is not None:
        stored = Policy.objects.order_by("-number").first()
        if stored is not None:
            policy = stored.engine_policy()
    return (
        set(policy.categories_that_may_not_leave),
        set(policy.classifications_that_may_not_leave),
    )


class GuardRefused(Exception):
    """Endpoints the data may not go to; ``message`` says why, for a 403."""

    def __init__(self, message: str, refused: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.refused = refused


def refusal_message(declaration: DataDeclaration, names: list[str]) -> str:
    listed = ", ".join(names)
    verb = "is" if len(names) == 1 else "are"
    return (
        f"Refused: {listed} {verb} outside our "
        f"infrastructure, and {declaration.describe()} may not leave it. "
        "Choose in-house endpoints, or state the data if it was misstated."
    )


def check_targets(
    *,
    declaration: DataDeclaration,
    targets: Iterable[tuple[str, str]],
    user: User,
    via: str,
) -> None:
    """Raise :class:`GuardRefused` (and audit it) if any target may not be used.

    ``targets`` are ``(name, location)`` pairs; ``via`` says where the call came
    from (``page``, ``api``, ``test_set``).
    """
    external = [name for name, location in targets if location == EXTERNAL]
    if not external or declaration.may_leave():
        return
    message = refusal_message(declaration, external)
    AuditEvent.record(
        kind="playground.refused",
        summary=f"Playground refused {', '.join(external)} for {declaration.describe()}",
        actor=user,
        use_case=declaration.use_case,
        data={
            "via": via,
            "endpoints": external,
            "data_classification": declaration.classification,
            "special_categories": list(declaration.special_categories),
            "must_stay_in_infrastructure": declaration.must_stay_in_infrastructure,
        },
    )
    raise GuardRefused(message, external)
