"""CSV exports of every table, and the printable board pack."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from apps.portfolio.exports import TABLES
from apps.portfolio.models import Budget
from apps.portfolio.queries import add_months, month_start
from tests.factories import UseCaseFactory

from .conftest import assess


@pytest.fixture
def data(usage, today, alice, carol, claims):  # type: ignore[no-untyped-def]
    router = UseCaseFactory(title="Email router", owner=alice, status="live")
    notes = UseCaseFactory(title="Discharge notes", owner=carol, status="live")
    assess(router, "hybrid", "100.00")
    endpoint = usage.endpoint("openai")
    for days_ago in (0, 2, 35):
        day = today - timedelta(days=days_ago)
        usage.add(endpoint=endpoint, use_case=router, day=day, requests=5, cost="2.5")
        usage.add(endpoint=endpoint, use_case=notes, day=day, requests=1, cost="0.75")
    usage.rollup()
    Budget.objects.create(team=claims, monthly_amount=Decimal("50"))
    return {"router": router, "notes": notes}


def _csv(response):  # type: ignore[no-untyped-def]
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize("table", sorted(TABLES))
def test_every_table_exports_as_csv(client, bob, data, table):
    client.force_login(bob)
    response = client.get(reverse("portfolio:export", args=[table]))
    _csv(response)


def test_the_vendor_csv_totals_equal_the_raw_usage(client, bob, data, usage):
    client.force_login(bob)
    rows = _csv(
        client.get(reverse("portfolio:export", args=["vendors"]), {"period": "12m"})
    )
    (openai,) = rows
    assert openai["vendor"] == "OpenAI"
    assert Decimal(openai["total"]) == usage.total()


def test_the_use_case_csv_follows_the_filters_and_the_raw_usage(
    client, bob, data, usage, claims, today
):
    client.force_login(bob)
    rows = _csv(
        client.get(
            reverse("portfolio:export", args=["use-cases"]),
            {"team": claims.pk, "period": "90d"},
        )
    )
    (row,) = rows
    router = data["router"]
    assert row["title"] == "Email router" and row["outcome"] == "hybrid"
    last30 = usage.total(
        a=lambda s: s.use_case == router,
        b=lambda s: s.bucket_start.date() >= today - timedelta(days=29),
    )
    assert Decimal(row["actual_last_30_days"]) == last30
    assert Decimal(row["gap"]) == last30 - Decimal("100")


def test_the_budget_csv_has_the_forecast(client, bob, data):
    client.force_login(bob)
    (row,) = _csv(client.get(reverse("portfolio:export", args=["budgets"])))
    assert row["scope"] == "team" and row["team"] == "Claims"
    assert row["state"] in {"ok", "warning", "over"}
    assert Decimal(row["forecast"]) >= Decimal(row["spent_this_month"])


def test_a_requester_exports_only_their_teams_rows(client, alice, data):
    client.force_login(alice)
    rows = _csv(client.get(reverse("portfolio:export", args=["use-cases"])))
    assert [row["title"] for row in rows] == ["Email router"]


def test_cells_that_would_run_as_formulas_are_neutralised(client, bob, alice):
    UseCaseFactory(title='=HYPERLINK("http://x")', owner=alice, status="live")
    client.force_login(bob)
    rows = _csv(client.get(reverse("portfolio:export", args=["use-cases"])))
    assert rows[0]["title"].startswith("'=")


def test_an_unknown_table_is_not_found(client, bob):
    client.force_login(bob)
    response = client.get(reverse("portfolio:export", args=["passwords"]))
    assert response.status_code == 404


def test_exports_need_a_role(client, django_user_model):
    user = django_user_model.objects.create_user("norole", password="pw")
    client.force_login(user)
    response = client.get(reverse("portfolio:export", args=["allocation"]))
    assert response.status_code == 403


def test_the_board_pack_shows_one_month_from_the_raw_usage(
    client, bob, data, usage, today
):
    last_month = add_months(today, -1)
    client.force_login(bob)
    response = client.get(
        reverse("portfolio:board_pack"), {"month": last_month.strftime("%Y-%m")}
    )
    assert response.status_code == 200
    overview = response.context["overview"]
    assert overview.start == last_month
    assert overview.period_cost == usage.total(
        a=lambda s: month_start(s.bucket_start.date()) == last_month
    )
    body = response.content.decode()
    assert last_month.strftime("%B %Y") in body
    assert "css/board_pack.css" in body and "data-print" in body


def test_the_board_pack_defaults_to_this_month(client, bob, data, today):
    client.force_login(bob)
    response = client.get(reverse("portfolio:board_pack"), {"month": "garbage"})
    assert response.context["overview"].start == month_start(today)
    assert response.context["is_current_month"]


def test_the_board_pack_csv_is_of_its_month(client, bob, data, usage, today):
    last_month = add_months(today, -1)
    client.force_login(bob)
    (row,) = _csv(
        client.get(
            reverse("portfolio:export", args=["vendors"]),
            {"month": last_month.strftime("%Y-%m")},
        )
    )
    assert Decimal(row["total"]) == usage.total(
        a=lambda s: month_start(s.bucket_start.date()) == last_month
    )
