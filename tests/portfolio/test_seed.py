"""The demo budgets: set once, whatever the number of runs."""

from __future__ import annotations

from apps.portfolio.models import Budget
from apps.portfolio.seed import seed_demo
from tests.factories import TeamFactory, UseCaseFactory, UserFactory


def test_the_demo_budgets_are_created_once(db):
    claims = TeamFactory(name="Claims", slug="claims")
    TeamFactory(name="Customer Service", slug="customer-service")
    owner = UserFactory(team=claims, role="requester")
    UseCaseFactory(title="Claims triage classifier", owner=owner, status="live")
    seed_demo({"users": {}})
    first = sorted(Budget.objects.values_list("pk", "monthly_amount"))
    seed_demo({"users": {}})
    assert sorted(Budget.objects.values_list("pk", "monthly_amount")) == first
    assert len(first) == 3  # two teams and the use-case (Health Analytics absent)
