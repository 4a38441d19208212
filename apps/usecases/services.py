"""Operations on use-cases that span models: lifecycle moves and intake writes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from . import lifecycle
from .models import Transition, UseCase, Workload
from .signals import use_case_transitioned

if TYPE_CHECKING:
    from apps.accounts.models import User


def transition_use_case(
    *, use_case: UseCase, to_status: str, by: User, comment: str = ""
) -> Transition:
    """Move a use-case along its lifecycle, recording who, when and why.

    Raises `lifecycle.TransitionError` for an illegal move or an actor without the
    right, and `lifecycle.DecisionRequired` for a decision outcome (approved,
    rejected, changes requested), which only `record_decision_outcome` reaches;
    the row is locked so two concurrent moves cannot both succeed.
    """
    return _move(
        use_case=use_case, to_status=to_status, by=by, comment=comment, decided=False
    )


def record_decision_outcome(
    *, use_case: UseCase, outcome: str, by: User, comment: str = ""
) -> Transition:
    """The move a board decision makes, for the decision service alone.

    The caller saves the Decision in the same transaction, so no use-case is
    approved, rejected or sent back without one.
    """
    if outcome not in lifecycle.DECISION_OUTCOMES:
        raise lifecycle.TransitionError(f"“{outcome}” is not a decision outcome.")
    return _move(
        use_case=use_case, to_status=outcome, by=by, comment=comment, decided=True
    )


def _move(
    *, use_case: UseCase, to_status: str, by: User, comment: str, decided: bool
) -> Transition:
    with transaction.atomic():
        locked = UseCase.objects.select_for_update().get(pk=use_case.pk)
        lifecycle.check(locked, to_status, by)
        lifecycle.run_guards(locked, to_status)
        if to_status in lifecycle.DECISION_OUTCOMES and not decided:
            raise lifecycle.DecisionRequired(to_status)
        if to_status == UseCase.Status.SUBMITTED:
            _check_complete(locked)
        record = Transition.objects.create(
            use_case=locked,
            from_status=locked.status,
            to_status=to_status,
            actor=by,
            comment=comment.strip(),
        )
        locked.status = to_status
        fields = ["status", "updated_at"]
        if to_status == UseCase.Status.SUBMITTED:
            locked.submitted_at = timezone.now()
            fields.append("submitted_at")
        locked._change_reason = f"{record.from_status} → {to_status}"  # history
        locked.save(update_fields=fields)
        use_case_transitioned.send(
            sender=UseCase, use_case=locked, transition=record, by=by
        )
    use_case.status = locked.status
    use_case.submitted_at = locked.submitted_at
    return record


def submit_use_case(*, use_case: UseCase, by: User, comment: str = "") -> Transition:
    return transition_use_case(
        use_case=use_case, to_status=UseCase.Status.SUBMITTED, by=by, comment=comment
    )


def _check_complete(use_case: UseCase) -> None:
    shares = list(use_case.workloads.values_list("share", flat=True))
    if not shares:
        raise lifecycle.TransitionError("Add at least one workload before submitting.")
    if sum(shares) != 100:
        raise lifecycle.TransitionError(
            f"Workload shares add up to {sum(shares)}%; they must add up to 100%."
        )


@transaction.atomic
def save_use_case(
    *,
    fields: dict[str, Any],
    workloads: Sequence[dict[str, Any]],
    by: User,
    use_case: UseCase | None = None,
) -> UseCase:
    """Create or update a use-case with its workloads, in one transaction."""
    if use_case is None:
        use_case = UseCase(owner=by)
    elif not use_case.can_edit(by):
        raise lifecycle.TransitionError(
            "Only the owner can edit a use-case, and only while it is a draft or "
            "has changes requested."
        )
    for name, value in fields.items():
        setattr(use_case, name, value)
    use_case.save()
    use_case.workloads.all().delete()
    for workload in workloads:  # one by one, so each lands in the history
        Workload.objects.create(use_case=use_case, **workload)
    return use_case
