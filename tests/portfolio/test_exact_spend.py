"""Defect 9: spend rows carry exact amounts, so rows and totals add up to the decimal.

Six days of one use-case on one endpoint, each costing a little more or less than a
whole cent: rounded to cents the rows sum to 19.02, the true total is 19.0129.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest

from tests.factories import UseCaseFactory

SPEND = "/api/v1/spend/"
SUMMARY = "/api/v1/portfolio/summary/"
COSTS = ["3.1688", "3.1705", "3.1649", "3.1751", "3.1659", "3.1677"]
# 3.1688 + 3.1705 + 3.1649 + 3.1751 + 3.1659 + 3.1677, by hand.
TRUE_TOTAL = Decimal("19.0129")
# The same rows rounded to cents first: 3.17+3.17+3.16+3.18+3.17+3.17.
CENTS_TOTAL = Decimal("19.02")


@pytest.fixture
def drifting(usage, today, alice):  # type: ignore[no-untyped-def]
    router = UseCaseFactory(title="Email router", owner=alice, status="live")
    endpoint = usage.endpoint("openai")
    days = [today - timedelta(days=n) for n in range(len(COSTS))]
    for day, cost in zip(days, COSTS, strict=True):
        usage.add(endpoint=endpoint, use_case=router, day=day, requests=1, cost=cost)
    usage.rollup()
    return {"days": days, "use_case": router}


def test_the_fixture_drifts_when_rounded_to_cents():
    rounded = sum(Decimal(c).quantize(Decimal("0.01")) for c in COSTS)
    assert rounded == CENTS_TOTAL != TRUE_TOTAL


def test_spend_rows_carry_the_ledgers_six_decimals(api_client, bob, drifting):
    api_client.force_authenticate(bob)
    body = api_client.get(
        SPEND,
        {
            "group_by": "use_case",
            "period": "day",
            "start": drifting["days"][-1],
            "end": drifting["days"][0],
        },
    ).json()
    by_day = {row["period"]: row["cost"] for row in body["results"]}
    expected = {
        day.isoformat(): f"{Decimal(cost):.6f}"
        for day, cost in zip(drifting["days"], COSTS, strict=True)
    }
    assert by_day == expected
    assert sum(Decimal(row["cost"]) for row in body["results"]) == TRUE_TOTAL


def test_spend_csv_rows_add_up_to_the_true_total(api_client, bob, drifting):
    api_client.force_authenticate(bob)
    response = api_client.get(
        SPEND,
        {
            "group_by": "vendor",
            "period": "day",
            "format": "csv",
            "start": drifting["days"][-1],
        },
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["cost"] for row in rows] == [f"{Decimal(c):.6f}" for c in COSTS[::-1]]
    assert sum(Decimal(row["cost"]) for row in rows) == TRUE_TOTAL


def test_the_summary_totals_equal_the_sum_of_their_parts_exactly(
    api_client, bob, drifting
):
    api_client.force_authenticate(bob)
    body = api_client.get(SUMMARY, {"period": "30d"}).json()
    assert Decimal(body["totals"]["spend_in_period"]) == TRUE_TOTAL
    assert Decimal(body["totals"]["spend_last_30_days"]) == TRUE_TOTAL
    for series in (body["spend_by_vendor"], body["spend_by_team"]):
        (only,) = series
        assert sum(Decimal(v) for v in only["values"]) == Decimal(only["total"])
        assert Decimal(only["total"]) == TRUE_TOTAL
    (top,) = body["top_use_cases"]
    assert Decimal(top["spend_in_period"]) == TRUE_TOTAL


def test_the_vendor_csv_months_add_up_to_its_total(client, bob, drifting):
    client.force_login(bob)
    response = client.get("/portfolio/export/vendors.csv", {"period": "30d"})
    (row,) = list(csv.DictReader(io.StringIO(response.content.decode())))
    months = [value for key, value in row.items() if key not in {"vendor", "total"}]
    assert sum(Decimal(v) for v in months) == Decimal(row["total"]) == TRUE_TOTAL


def test_the_page_rounds_for_display_only(client, bob, drifting):
    client.force_login(bob)
    page = client.get("/portfolio/", {"period": "30d"}).content.decode()
    assert "$19.01" in page  # 19.0129 shown to the cent, not 19.02


def test_a_budgets_spend_is_exact(api_client, bob, dave, drifting, today):
    from apps.portfolio.models import Budget

    Budget.objects.create(use_case=drifting["use_case"], monthly_amount=100)
    api_client.force_authenticate(bob)
    body = api_client.get(SUMMARY).json()
    (budget,) = body["budgets"]
    in_month = sum(
        Decimal(cost)
        for day, cost in zip(drifting["days"], COSTS, strict=True)
        if day.month == today.month and day.year == today.year
    )
    assert Decimal(budget["spent_this_month"]) == in_month
