"""Budgets: the month-end forecast, alerts, who manages them and who sees them."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.portfolio.models import Budget, BudgetAlert
from apps.portfolio.queries import budget_statuses, forecast_month_end
from apps.portfolio.services import record_budget_alerts
from apps.usecases.models import AuditEvent
from tests.factories import UseCaseFactory

# The 20th of a 31-day month: 11 days left after it.
TODAY = date(2025, 3, 20)


@pytest.fixture
def spend(usage, alice, carol):  # type: ignore[no-untyped-def]
    """Claims: $10 a day from 1 March to today; Health: $1 a day."""
    claims_uc = UseCaseFactory(title="Claims triage", owner=alice, status="live")
    health_uc = UseCaseFactory(title="Health notes", owner=carol, status="live")
    endpoint = usage.endpoint("openai")
    day = date(2025, 2, 20)
    while day <= TODAY:
        usage.add(endpoint=endpoint, use_case=claims_uc, day=day, requests=1, cost="10")
        usage.add(endpoint=endpoint, use_case=health_uc, day=day, requests=1, cost="1")
        day += timedelta(days=1)
    usage.rollup()
    return {"claims": claims_uc, "health": health_uc}


def test_forecast_is_spend_so_far_plus_run_rate_times_days_left():
    assert forecast_month_end(
        spent=Decimal("200"), run_rate=Decimal("10"), today=TODAY
    ) == Decimal("310.00")
    # On the last day of the month nothing is left to add.
    assert forecast_month_end(
        spent=Decimal("200"), run_rate=Decimal("10"), today=date(2025, 3, 31)
    ) == Decimal("200.00")


def test_a_team_budget_forecasts_from_this_months_spend_and_last_weeks_rate(
    spend, claims, usage
):
    Budget.objects.create(team=claims, monthly_amount=Decimal("400"))
    (status,) = budget_statuses(user=None, today=TODAY)
    in_march = usage.total(
        a=lambda s: s.team_id == claims.pk,
        b=lambda s: date(2025, 3, 1) <= s.bucket_start.date() <= TODAY,
    )
    assert status.spent == in_march == Decimal("200")
    assert status.run_rate == Decimal("10.00")  # the 7 full days before today
    assert status.days_left == 11
    assert status.forecast == Decimal("310.00")
    assert not status.alert and status.state == "ok"


def test_it_alerts_when_the_forecast_passes_the_budget(spend, claims):
    Budget.objects.create(team=claims, monthly_amount=Decimal("300"))
    (status,) = budget_statuses(user=None, today=TODAY)
    assert status.alert and status.state == "over" and not status.exceeded


def test_it_warns_near_the_budget(spend, claims):
    Budget.objects.create(team=claims, monthly_amount=Decimal("320"))
    (status,) = budget_statuses(user=None, today=TODAY)
    assert status.state == "warning" and not status.alert


def test_a_use_case_budget_counts_only_that_use_case(spend):
    Budget.objects.create(use_case=spend["health"], monthly_amount=Decimal("25"))
    (status,) = budget_statuses(user=None, today=TODAY)
    assert status.spent == Decimal("20")
    assert status.forecast == Decimal("31.00") and status.alert


def test_budget_alerts_are_recorded_and_audited_once_a_month(spend, claims, health):
    Budget.objects.create(team=claims, monthly_amount=Decimal("300"))
    Budget.objects.create(team=health, monthly_amount=Decimal("300"))
    (alert,) = record_budget_alerts(today=TODAY)
    assert alert.budget.team == claims and alert.forecast == Decimal("310.00")
    assert record_budget_alerts(today=TODAY) == []
    assert BudgetAlert.objects.count() == 1
    event = AuditEvent.objects.get(kind="budget.forecast_over")
    assert "passes the budget" in event.summary


def test_the_overview_shows_the_alert(client, bob, claims, usage, alice, today):
    use_case = UseCaseFactory(owner=alice, status="live")
    endpoint = usage.endpoint("openai")
    usage.add(endpoint=endpoint, use_case=use_case, day=today, requests=1, cost="500")
    usage.rollup()
    Budget.objects.create(team=claims, monthly_amount=Decimal("100"))
    client.force_login(bob)
    response = client.get(reverse("portfolio:overview"))
    assert [s.budget.team for s in response.context["overview"].alerts] == [claims]
    assert "Budget alerts" in response.content.decode()


def test_a_requester_sees_only_their_teams_budgets(client, alice, claims, health):
    Budget.objects.create(team=claims, monthly_amount=Decimal("100"))
    Budget.objects.create(team=health, monthly_amount=Decimal("100"))
    client.force_login(alice)
    response = client.get(reverse("portfolio:budgets"))
    assert [s.budget.team for s in response.context["statuses"]] == [claims]


@pytest.mark.parametrize("name", ["dave", "bob"])
def test_platform_and_board_set_budgets(client, request, name, claims):
    user = request.getfixturevalue(name)
    client.force_login(user)
    response = client.post(
        reverse("portfolio:budget_create"),
        {"team": claims.pk, "monthly_amount": "1500.00", "note": "FY25"},
    )
    assert response.status_code == 302
    budget = Budget.objects.get(team=claims)
    assert budget.monthly_amount == Decimal("1500.00")
    assert AuditEvent.objects.filter(kind="budget.set", actor=user).exists()


@pytest.mark.parametrize("name", ["alice", "paul", "erin"])
def test_others_cannot_set_budgets(client, request, name, claims):
    client.force_login(request.getfixturevalue(name))
    response = client.post(
        reverse("portfolio:budget_create"),
        {"team": claims.pk, "monthly_amount": "1500.00"},
    )
    assert response.status_code == 403
    assert not Budget.objects.exists()


def test_a_budget_is_for_a_team_or_a_use_case_not_both(client, dave, claims, alice):
    use_case = UseCaseFactory(owner=alice, status="live")
    client.force_login(dave)
    response = client.post(
        reverse("portfolio:budget_create"),
        {"team": claims.pk, "use_case": use_case.pk, "monthly_amount": "10"},
    )
    assert response.status_code == 200
    assert "Choose either a team or a use-case" in response.content.decode()
    assert not Budget.objects.exists()


def test_a_team_has_one_budget(client, dave, claims):
    Budget.objects.create(team=claims, monthly_amount=Decimal("100"))
    client.force_login(dave)
    response = client.post(
        reverse("portfolio:budget_create"), {"team": claims.pk, "monthly_amount": "5"}
    )
    assert response.status_code == 200
    assert Budget.objects.get().monthly_amount == Decimal("100")


def test_editing_and_removing_a_budget_is_audited(client, dave, claims):
    budget = Budget.objects.create(team=claims, monthly_amount=Decimal("100"))
    client.force_login(dave)
    client.post(
        reverse("portfolio:budget_edit", args=[budget.pk]),
        {"team": claims.pk, "monthly_amount": "250"},
    )
    budget.refresh_from_db()
    assert budget.monthly_amount == Decimal("250")
    changed = AuditEvent.objects.get(kind="budget.changed")
    assert changed.data["previous_amount"] == "100.00"
    client.post(reverse("portfolio:budget_delete", args=[budget.pk]))
    assert not Budget.objects.exists()
    assert AuditEvent.objects.filter(kind="budget.removed").exists()


def test_a_requester_cannot_edit_a_budget_they_can_see(client, alice, claims):
    budget = Budget.objects.create(team=claims, monthly_amount=Decimal("100"))
    client.force_login(alice)
    assert (
        client.get(reverse("portfolio:budget_edit", args=[budget.pk])).status_code
        == 403
    )
    response = client.post(reverse("portfolio:budget_delete", args=[budget.pk]))
    assert response.status_code == 403
    assert Budget.objects.exists()


def test_another_teams_budget_is_not_found_for_a_requester(client, carol, claims):
    budget = Budget.objects.create(team=claims, monthly_amount=Decimal("100"))
    client.force_login(carol)
    response = client.post(reverse("portfolio:budget_delete", args=[budget.pk]))
    assert response.status_code == 404


def test_the_alert_task_is_scheduled_and_records_alerts(usage, alice, claims, today):
    from apps.portfolio import tasks
    from portal.celery import app

    schedule = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert "apps.portfolio.tasks.record_budget_alerts" in schedule
    use_case = UseCaseFactory(owner=alice, status="live")
    endpoint = usage.endpoint("openai")
    usage.add(endpoint=endpoint, use_case=use_case, day=today, requests=1, cost="5")
    usage.rollup()
    Budget.objects.create(team=claims, monthly_amount=Decimal("1"))
    assert tasks.record_budget_alerts() == 1
    assert tasks.record_budget_alerts() == 0
