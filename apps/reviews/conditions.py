"""Conditions of an approval as tasks: created with the decision, resolved with
evidence, marked overdue once by a periodic task, and a gate on going live."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.events import Event, EventKind, emit
from apps.usecases import lifecycle
from apps.usecases.models import AuditEvent, UseCase

from .models import Condition, Decision

if TYPE_CHECKING:
    from apps.accounts.models import User

GO_LIVE_WORDS = re.compile(r"^before[ -]go[ -]live$", re.IGNORECASE)


@dataclass(frozen=True)
class ConditionSpec:
    """A condition as the board states it; `owner` None means the use-case owner."""

    text: str
    owner: str | None = None  # username
    due_date: datetime.date | None = None
    before_go_live: bool = False


def parse_line(line: str) -> ConditionSpec:
    """“Text | 2026-12-31 | before go-live | @dana” (all but the text optional).

    Raises ValueError naming the part it cannot read.
    """
    text, *parts = [p.strip() for p in line.split("|")]
    spec: dict[str, Any] = {"text": text}
    for part in parts:
        if not part:
            continue
        if GO_LIVE_WORDS.match(part):
            spec["before_go_live"] = True
        elif part.startswith("@"):
            spec["owner"] = part[1:]
        else:
            try:
                spec["due_date"] = datetime.date.fromisoformat(part)
            except ValueError:
                raise ValueError(
                    f"“{part}”: give a due date as YYYY-MM-DD, “before go-live” or "
                    "an owner as @username."
                ) from None
    return ConditionSpec(**spec)


def specs_from(conditions: Sequence[str | Mapping[str, Any]]) -> list[ConditionSpec]:
    """Strings (the decision's old shape) or objects with text, owner, due_date,
    before_go_live. Raises ValidationError on `conditions`."""
    specs = []
    problems = []
    for i, item in enumerate(conditions):
        try:
            if isinstance(item, str):
                if not item.strip():
                    continue
                specs.append(parse_line(item))
                continue
            due = item.get("due_date")
            if isinstance(due, str) and due:
                due = datetime.date.fromisoformat(due)
            specs.append(
                ConditionSpec(
                    text=str(item.get("text", "")).strip(),
                    owner=item.get("owner") or None,
                    due_date=due or None,
                    before_go_live=bool(item.get("before_go_live", False)),
                )
            )
        except ValueError as exc:
            problems.append(f"Condition {i + 1}: {exc}")
    for i, spec in enumerate(specs):
        if not spec.text:
            problems.append(f"Condition {i + 1}: say what the condition is.")
    named = {s.owner for s in specs if s.owner}
    if named:
        found = set(
            get_user_model()
            .objects.filter(username__in=named, is_active=True)
            .values_list("username", flat=True)
        )
        problems.extend(
            f"No active user “{name}” to own a condition." for name in named - found
        )
    if problems:
        raise ValidationError({"conditions": problems})
    return specs


def create_condition_tasks(
    *, decision: Decision, specs: Sequence[ConditionSpec]
) -> list[Condition]:
    """One task per condition of the decision; owners are told (inside the
    decision's transaction, delivered on commit)."""
    users = {
        u.username: u
        for u in get_user_model().objects.filter(
            username__in=[s.owner for s in specs if s.owner]
        )
    }
    use_case = decision.use_case
    tasks = []
    for spec in specs:
        owner = users.get(spec.owner or "", use_case.owner)
        task = Condition.objects.create(
            use_case=use_case,
            decision=decision,
            text=spec.text,
            owner=owner,
            due_date=spec.due_date,
            before_go_live=spec.before_go_live,
        )
        tasks.append(task)
        emit(
            Event(
                kind=EventKind.CONDITION_ASSIGNED,
                key=f"condition_assigned:{task.pk}",
                title=f"Condition on “{use_case.title}”: {task.text}",
                body=f"Due {task.due_date:%d %b %Y}." if task.due_date else "",
                url=use_case.get_absolute_url(),
                use_case_id=use_case.pk,
                user_ids=(owner.pk,),
            )
        )
    return tasks


def may_resolve(condition: Condition, user: User) -> bool:
    """Its owner marks it done; the board marks done or waives."""
    return user.is_active and (
        condition.owner_id == user.pk or user.has_role("board") or user.is_superuser
    )


def resolve_condition(
    *, condition: Condition, by: User, status: str, evidence: str = ""
) -> Condition:
    """Mark a condition done (with evidence) or waived (board, with a reason).

    Raises PermissionError for someone who may not, ValidationError with field
    errors for a bad status or missing evidence; nothing is recorded then.
    """
    if not may_resolve(condition, by):
        raise PermissionError("Only the condition's owner or the board resolves it.")
    errors: dict[str, list[str]] = {}
    if status not in (Condition.Status.DONE, Condition.Status.WAIVED):
        errors["status"] = ["Mark it done or waived."]
    elif status == Condition.Status.WAIVED and not (
        by.has_role("board") or by.is_superuser
    ):
        errors["status"] = ["Only the board waives a condition."]
    if not evidence.strip():
        errors["evidence"] = [
            "Give the evidence that it is met."
            if status == Condition.Status.DONE
            else "Give the reason for waiving it."
        ]
    if not condition.is_unresolved:
        errors["__all__"] = [f"This condition is {condition.status} already."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        condition.status = status
        condition.evidence = evidence.strip()
        condition.resolved_by = by
        condition.resolved_at = timezone.now()
        condition.save(
            update_fields=["status", "evidence", "resolved_by", "resolved_at"]
        )
        AuditEvent.record(
            kind="reviews.condition_resolved",
            summary=f"Condition {condition.get_status_display().lower()}: "
            f"{condition.text}",
            actor=by,
            use_case=condition.use_case,
            data={"condition_id": condition.pk, "evidence": condition.evidence},
        )
    return condition


def mark_overdue_conditions(*, today: datetime.date | None = None) -> list[int]:
    """Mark open conditions past their due date overdue, each once, and tell its
    owner and the board. Idempotent: a conditional UPDATE claims each row."""
    today = today or timezone.localdate()
    marked = []
    late = Condition.objects.filter(
        status=Condition.Status.OPEN, due_date__lt=today
    ).values_list("pk", flat=True)
    for pk in list(late):
        with transaction.atomic():
            claimed = Condition.objects.filter(
                pk=pk, status=Condition.Status.OPEN, overdue_notified_at__isnull=True
            ).update(
                status=Condition.Status.OVERDUE, overdue_notified_at=timezone.now()
            )
            if not claimed:
                continue
            condition = Condition.objects.select_related("use_case").get(pk=pk)
            use_case = condition.use_case
            emit(
                Event(
                    kind=EventKind.CONDITION_OVERDUE,
                    key=f"condition_overdue:{pk}",
                    title=f"Condition overdue on “{use_case.title}”",
                    body=f"{condition.text} (due {condition.due_date:%d %b %Y})",
                    url=use_case.get_absolute_url(),
                    use_case_id=use_case.pk,
                    user_ids=(condition.owner_id,),
                    roles=("board",),
                )
            )
            marked.append(pk)
    return marked


def go_live_guard(use_case: UseCase, to_status: str) -> None:
    """Registered with the lifecycle: no going live with a pre-go-live condition
    still open."""
    if to_status != UseCase.Status.LIVE:
        return
    blocking = list(
        Condition.objects.unresolved()
        .filter(use_case=use_case, before_go_live=True)
        .values_list("text", flat=True)
    )
    if blocking:
        raise lifecycle.TransitionError(
            "Conditions to meet before going live are still open: "
            + "; ".join(blocking)
            + "."
        )


@dataclass(frozen=True)
class Attention:
    """Overdue conditions and open incidents among the use-cases a user sees."""

    overdue: list[Condition]
    incidents: list[Any]


def with_attention_flags(use_cases: Any) -> Any:
    """Annotate ``has_overdue_condition`` and ``has_open_incident`` (subqueries,
    no extra query) for the use-case lists."""
    from django.db.models import Exists, OuterRef

    from .models import Incident

    return use_cases.annotate(
        has_overdue_condition=Exists(
            Condition.objects.filter(
                use_case=OuterRef("pk"), status=Condition.Status.OVERDUE
            )
        ),
        has_open_incident=Exists(
            Incident.objects.filter(
                use_case=OuterRef("pk"), status=Incident.Status.OPEN
            )
        ),
    )


def attention_for(user: User, *, limit: int = 50) -> Attention:
    """For the portfolio: two queries, whatever the number of use-cases."""
    from .models import Incident

    visible = UseCase.objects.visible_to(user)
    return Attention(
        overdue=list(
            Condition.objects.overdue()
            .filter(use_case__in=visible)
            .for_list()
            .order_by("due_date", "pk")[:limit]
        ),
        incidents=list(
            Incident.objects.open().filter(use_case__in=visible).for_list()[:limit]
        ),
    )
