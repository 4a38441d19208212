"""Budget changes and budget alerts, each recorded in the audit trail."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.urls import reverse

from apps.core.events import Event, EventKind, emit
from apps.usecases.models import AuditEvent

from .models import Budget, BudgetAlert
from .queries import budget_statuses, month_start, utc_today

if TYPE_CHECKING:
    from apps.accounts.models import User


def save_budget(*, budget: Budget | None, fields: dict[str, Any], by: User) -> Budget:
    """Create or change a budget (team or use-case, monthly amount, note)."""
    creating = budget is None
    if budget is None:
        budget = Budget(created_by=by)
    # A bound ModelForm has already changed the instance: read the stored amount.
    before = (
        None
        if creating
        else Budget.objects.filter(pk=budget.pk)
        .values_list("monthly_amount", flat=True)
        .first()
    )
    for name, value in fields.items():
        setattr(budget, name, value)
    with transaction.atomic():
        budget.full_clean()
        budget.save()
        AuditEvent.record(
            kind="budget.set" if creating else "budget.changed",
            summary=f"Budget for {budget.scope_label.lower()} "
            f"{'set to' if creating else 'changed to'} "
            f"${budget.monthly_amount:,.2f} a month.",
            actor=by,
            use_case=budget.use_case,
            data={
                "budget": budget.pk,
                "team": budget.team_id,
                "monthly_amount": str(budget.monthly_amount),
                "previous_amount": None if before is None else str(before),
            },
        )
    return budget


def delete_budget(*, budget: Budget, by: User) -> None:
    with transaction.atomic():
        AuditEvent.record(
            kind="budget.removed",
            summary=f"Budget for {budget.scope_label.lower()} removed.",
            actor=by,
            use_case=budget.use_case,
            data={"budget": budget.pk, "monthly_amount": str(budget.monthly_amount)},
        )
        budget.delete()


def record_budget_alerts(*, today: date | None = None) -> list[BudgetAlert]:
    """Record (and audit) each budget whose forecast passes it, once a month.

    Safe to run again and again (a periodic task): a budget already alerted this
    month is skipped by the unique (budget, month) key.
    """
    today = today or utc_today()
    month = month_start(today)
    alerted = set(
        BudgetAlert.objects.filter(month=month).values_list("budget_id", flat=True)
    )
    created = []
    for status in budget_statuses(user=None, today=today):
        if (
            status.budget.enforcement == Budget.Enforcement.HARD
            and status.spent >= status.amount
        ):
            # Emitted every run: its key makes it reach people once a month.
            emit(_budget_event(status.budget, EventKind.BUDGET_HARD_REACHED, month))
        if not status.alert or status.budget.pk in alerted:
            continue
        try:
            with transaction.atomic():
                alert = BudgetAlert.objects.create(
                    budget=status.budget,
                    month=month,
                    forecast=status.forecast,
                    amount=status.amount,
                )
                AuditEvent.record(
                    kind="budget.forecast_over",
                    summary=f"{status.budget.scope_label}: forecast "
                    f"${status.forecast:,.2f} passes the budget of "
                    f"${status.amount:,.2f} for {month:%B %Y}.",
                    use_case=status.budget.use_case,
                    data={
                        "budget": status.budget.pk,
                        "month": month.isoformat(),
                        "spent": str(status.spent),
                        "run_rate": str(status.run_rate),
                        "forecast": str(status.forecast),
                        "amount": str(status.amount),
                    },
                )
            emit(_budget_event(status.budget, EventKind.BUDGET_FORECAST_OVER, month))
        except IntegrityError:  # a concurrent run recorded it first
            continue
        created.append(alert)
    return created


def _budget_event(budget: Budget, kind: str, month: date) -> Event:
    use_case = budget.use_case
    if kind == EventKind.BUDGET_HARD_REACHED:
        title = f"{budget.scope_label}: hard budget reached for {month:%B %Y}"
        body = (
            f"Spend this month has reached the budget of "
            f"${budget.monthly_amount:,.2f}; the gateway refuses its requests."
        )
    else:
        title = f"{budget.scope_label}: budget forecast over for {month:%B %Y}"
        body = f"The forecast to month end passes ${budget.monthly_amount:,.2f}."
    return Event(
        kind=kind,
        key=f"{kind}:{budget.pk}:{month.isoformat()}",
        title=title,
        body=body,
        url=use_case.get_absolute_url() if use_case else reverse("portfolio:overview"),
        use_case_id=budget.use_case_id,
        team_id=budget.team_id or (use_case.team_id if use_case else None),
        user_ids=(use_case.owner_id,) if use_case else (),
        roles=("platform", "procurement"),
        context={"budget": budget.pk, "month": month.isoformat()},
    )
