"""Demo budgets: one team comfortably within, one forecast over, one use-case's.

Amounts are set against the demo's collected spend when first seeded, so the
overview shows a realistic mix (and one alert); a second run changes nothing.
"""

from __future__ import annotations

from decimal import Decimal

from apps.accounts.models import Team
from apps.usecases.models import UseCase

from .models import Budget
from .queries import budget_statuses

# team slug or use-case title, share of this month's forecast, fallback amount
TEAM_BUDGETS = [
    ("claims", Decimal("1.30"), Decimal("4000")),
    ("customer-service", Decimal("0.80"), Decimal("9000")),
    ("health-analytics", Decimal("1.50"), Decimal("2500")),
]
USE_CASE_BUDGETS = [
    ("Claims triage classifier", Decimal("1.10"), Decimal("2000")),
]


def seed_demo(context: dict) -> None:
    creator = context.get("users", {}).get("platform")
    for slug, share, fallback in TEAM_BUDGETS:
        team = Team.objects.filter(slug=slug).first()
        if team is None or Budget.objects.filter(team=team).exists():
            continue
        budget = Budget.objects.create(
            team=team, monthly_amount=fallback, created_by=creator, note="Demo."
        )
        _fit(budget, share)
    for title, share, fallback in USE_CASE_BUDGETS:
        use_case = UseCase.objects.filter(title=title).first()
        if use_case is None or Budget.objects.filter(use_case=use_case).exists():
            continue
        budget = Budget.objects.create(
            use_case=use_case, monthly_amount=fallback, created_by=creator, note="Demo."
        )
        _fit(budget, share)


def _fit(budget: Budget, share: Decimal) -> None:
    """Set the amount to ``share`` of this month's forecast, when there is spend."""
    for status in budget_statuses(user=None):
        if status.budget.pk == budget.pk and status.forecast > 0:
            amount = (status.forecast * share / 100).quantize(Decimal(1)) * 100
            budget.monthly_amount = max(amount, Decimal("100"))
            budget.save(update_fields=["monthly_amount"])
