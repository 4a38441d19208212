"""Periodic review: each EU AI Act tier has an interval (risk policy); approved and
live use-cases past it are due, shown in the board's queue and announced once."""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass

from django.utils import timezone

from apps.core.events import Event, EventKind, emit
from apps.risk.models import RiskAssessment
from apps.risk.services import current_policy
from apps.usecases.models import UseCase

from .models import IN_FORCE, Decision

# Without a risk assessment a use-case is reviewed as the least risky tier.
DEFAULT_TIER = "minimal"


@dataclass(frozen=True)
class ReviewDue:
    use_case: UseCase
    tier: str
    approved_on: datetime.date
    due_on: datetime.date


def add_months(day: datetime.date, months: int) -> datetime.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def reviews_due(
    *, today: datetime.date | None = None, use_cases: object = None
) -> list[ReviewDue]:
    """Approved or live use-cases whose last board approval is older than their
    tier's interval; three queries whatever their number."""
    today = today or timezone.localdate()
    _, policy = current_policy()
    queryset = use_cases if use_cases is not None else UseCase.objects.all()
    candidates = {
        uc.pk: uc
        for uc in queryset.filter(status__in=IN_FORCE).select_related("owner", "team")
    }
    approved: dict[int, datetime.datetime] = {}
    for use_case_id, at in (
        Decision.objects.filter(
            use_case_id__in=candidates,
            outcome=Decision.Outcome.APPROVED,
            transition__isnull=False,  # amendments of routes are not reviews
        )
        .order_by("created_at")
        .values_list("use_case_id", "created_at")
    ):
        approved[use_case_id] = at
    tiers: dict[int, str] = {}
    for use_case_id, tier in (
        RiskAssessment.objects.filter(use_case_id__in=candidates)
        .order_by("number")
        .values_list("use_case_id", "eu_ai_act_tier")
    ):
        tiers[use_case_id] = tier
    due = []
    for pk, at in approved.items():
        tier = tiers.get(pk, DEFAULT_TIER)
        months = policy.review_interval_months.get(tier, 0)
        if not months:
            continue
        approved_on = timezone.localdate(at)
        due_on = add_months(approved_on, months)
        if due_on <= today:
            due.append(ReviewDue(candidates[pk], tier, approved_on, due_on))
    return sorted(due, key=lambda d: (d.due_on, d.use_case.pk))


def announce_reviews_due(*, today: datetime.date | None = None) -> int:
    """Tell the owner and the board of each due review (once per due date)."""
    due = reviews_due(today=today)
    for item in due:
        use_case = item.use_case
        emit(
            Event(
                kind=EventKind.REVIEW_DUE,
                key=f"review_due:{use_case.pk}:{item.due_on.isoformat()}",
                title=f"Periodic review due: {use_case.title}",
                body=f"EU AI Act tier {item.tier}; approved {item.approved_on:%d %b %Y}, "
                f"review due {item.due_on:%d %b %Y}.",
                url=use_case.get_absolute_url(),
                use_case_id=use_case.pk,
                user_ids=(use_case.owner_id,),
                roles=("board",),
            )
        )
    return len(due)
