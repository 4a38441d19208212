"""Provider bills against computed spend: `/api/v1/spend/reconciliation/` and its page.

A hand-built ledger (all figures below are worked out by hand from it):

OpenAI endpoint, 10 March: billed 10.50 (proj_a) + 2.25 (proj_b) = 12.75; usage
  10.40 on the router, 2.00 on proj_b without a use-case, and 300 + 30 tokens of
  an unpriced fine-tune → computed 12.40, variance +0.35, 2.75 % (0.35 / 12.75).
OpenAI, 11 March: billed 4.00, usage 4.00 → variance 0, 0.00 %.
Anthropic, 10 March: billed 7.125, usage 7.50 → variance -0.375, -5.26 %.
Anthropic, 11 March: no bill yet, usage 1.000001 → no variance.
A self-hosted vLLM endpoint's usage is not a provider's and stays out.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.endpoints.models import ServingEndpoint, UsageSample
from tests.factories import ServingEndpointFactory, UseCaseFactory

API = "/api/v1/spend/reconciliation/"
PAGE = "/portfolio/reconciliation/"
D1, D2 = date(2026, 3, 10), date(2026, 3, 11)
RANGE = {"start": "2026-03-10", "end": "2026-03-11"}


class Ledger:
    serial = 0

    def add(
        self,
        endpoint: ServingEndpoint,
        day: date,
        *,
        cost: str | None,
        measure: str = "usage",
        hour: int = 0,
        model: str = "",
        project_id: str = "",
        use_case=None,  # type: ignore[no-untyped-def]
        tokens: tuple[int, int] = (0, 0),
        requests: int = 0,
    ) -> UsageSample:
        self.serial += 1
        start = datetime.combine(day, time(hour), tzinfo=UTC)
        width = timedelta(days=1) if measure == "cost" else timedelta(hours=1)
        return UsageSample.objects.create(
            endpoint=endpoint,
            series=f"s{self.serial}",
            bucket_start=start,
            bucket_end=start + width,
            measure=measure,
            model=model,
            project_id=project_id,
            use_case=use_case,
            team=use_case.team if use_case else None,
            requests=requests,
            input_tokens=tokens[0],
            output_tokens=tokens[1],
            cost=None if cost is None else Decimal(cost),
        )


@pytest.fixture
def ledger(db, alice, carol):  # type: ignore[no-untyped-def]
    router = UseCaseFactory(title="Email router", owner=alice, status="live")
    notes = UseCaseFactory(title="Discharge notes", owner=carol, status="live")
    openai = ServingEndpointFactory(
        name="OpenAI org", kind="openai", location="external"
    )
    anthropic = ServingEndpointFactory(
        name="Anthropic org", kind="anthropic", location="external"
    )
    vllm = ServingEndpointFactory(name="GPU box", kind="vllm", hourly_cost=None)
    book = Ledger()
    bill = {"measure": "cost"}
    book.add(openai, D1, cost="10.500000", project_id="proj_a", **bill)
    book.add(openai, D1, cost="2.250000", project_id="proj_b", **bill)
    book.add(openai, D2, cost="4.000000", project_id="proj_a", **bill)
    book.add(anthropic, D1, cost="7.125000", **bill)
    book.add(
        openai, D1, cost="10.40", hour=10, model="gpt-4o", use_case=router,
        tokens=(40_000, 4_000), requests=40, project_id="proj_a",
    )  # fmt: skip
    book.add(
        openai, D1, cost="2.00", hour=11, model="gpt-4o", project_id="proj_b",
        tokens=(500, 50), requests=5,
    )  # fmt: skip
    book.add(
        openai, D1, cost=None, hour=12, model="ft:gpt-x", use_case=router,
        tokens=(300, 30), requests=3,
    )  # fmt: skip
    book.add(
        openai, D2, cost="4.00", hour=9, model="gpt-4o", use_case=router,
        tokens=(1_000, 100), requests=10,
    )  # fmt: skip
    book.add(
        anthropic, D1, cost="7.50", hour=8, model="claude-sonnet-4", use_case=notes,
        tokens=(2_000, 200), requests=2,
    )  # fmt: skip
    book.add(
        anthropic, D2, cost="1.000001", hour=8, model="claude-sonnet-4",
        use_case=notes, tokens=(10, 1), requests=1,
    )  # fmt: skip
    book.add(vllm, D1, cost="5.00", hour=8, model="llama", use_case=router)
    return {"openai": openai, "anthropic": anthropic, "router": router}


def _rows(body):  # type: ignore[no-untyped-def]
    return {(row["endpoint_name"], row["period"]): row for row in body["results"]}


def test_each_provider_day_sets_the_bill_against_computed_spend(
    api_client, bob, ledger
):
    api_client.force_authenticate(bob)
    response = api_client.get(API, {**RANGE, "period": "day"})
    assert response.status_code == 200, response.content
    rows = _rows(response.json())
    assert set(rows) == {
        ("OpenAI org", "2026-03-10"),
        ("OpenAI org", "2026-03-11"),
        ("Anthropic org", "2026-03-10"),
        ("Anthropic org", "2026-03-11"),
    }
    first = rows[("OpenAI org", "2026-03-10")]
    assert first["provider"] == "OpenAI"
    assert first["billed_cost"] == "12.750000"
    assert first["computed_cost"] == "12.400000"
    assert first["variance"] == "0.350000"
    assert first["variance_percent"] == "2.75"
    assert first["unmapped_cost"] == "2.000000"
    assert (first["unmapped_input_tokens"], first["unmapped_output_tokens"]) == (
        500,
        50,
    )
    assert first["unpriced_requests"] == 3
    assert (first["unpriced_input_tokens"], first["unpriced_output_tokens"]) == (
        300,
        30,
    )
    second = rows[("OpenAI org", "2026-03-11")]
    assert (second["variance"], second["variance_percent"]) == ("0.000000", "0.00")
    over = rows[("Anthropic org", "2026-03-10")]
    assert (over["billed_cost"], over["computed_cost"]) == ("7.125000", "7.500000")
    assert (over["variance"], over["variance_percent"]) == ("-0.375000", "-5.26")
    unbilled = rows[("Anthropic org", "2026-03-11")]
    assert unbilled["billed_cost"] is None and unbilled["variance"] is None
    assert unbilled["computed_cost"] == "1.000001"


def test_the_rows_that_explain_a_variance_are_listed(api_client, bob, ledger):
    api_client.force_authenticate(bob)
    rows = _rows(api_client.get(API, {**RANGE, "period": "day"}).json())
    explanations = rows[("OpenAI org", "2026-03-10")]["explanations"]
    assert explanations == [
        {
            "reason": "no_price",
            "model": "ft:gpt-x",
            "project_id": "",
            "api_key_id": "",
            "requests": 3,
            "input_tokens": 300,
            "output_tokens": 30,
            "cost": None,
        },
        {
            "reason": "no_use_case",
            "model": "gpt-4o",
            "project_id": "proj_b",
            "api_key_id": "",
            "requests": 5,
            "input_tokens": 500,
            "output_tokens": 50,
            "cost": "2.000000",
        },
    ]
    assert rows[("Anthropic org", "2026-03-10")]["explanations"] == []


def test_by_month_the_days_are_summed(api_client, bob, ledger):
    api_client.force_authenticate(bob)
    rows = _rows(api_client.get(API, {**RANGE, "period": "month"}).json())
    openai = rows[("OpenAI org", "2026-03")]
    # 12.75 + 4.00 billed, 12.40 + 4.00 computed; 0.35 / 16.75 = 2.0896 %.
    assert (openai["billed_cost"], openai["computed_cost"]) == (
        "16.750000",
        "16.400000",
    )
    assert (openai["variance"], openai["variance_percent"]) == ("0.350000", "2.09")
    anthropic = rows[("Anthropic org", "2026-03")]
    # 7.125 billed; 7.50 + 1.000001 computed; -1.375001 / 7.125 = -19.2982 %.
    assert anthropic["computed_cost"] == "8.500001"
    assert (anthropic["variance"], anthropic["variance_percent"]) == (
        "-1.375001",
        "-19.30",
    )


def test_the_totals_are_the_exact_sums_of_the_rows(api_client, bob, ledger):
    api_client.force_authenticate(bob)
    body = api_client.get(API, {**RANGE, "period": "day", "page_size": 1}).json()
    assert body["count"] == 4 and len(body["results"]) == 1
    totals = body["totals"]
    assert totals["billed_cost"] == "23.875000"  # 12.75 + 4 + 7.125
    assert totals["computed_cost"] == "24.900001"  # 12.40 + 4 + 7.50 + 1.000001
    assert totals["computed_cost_billed_periods"] == "23.900000"
    assert totals["variance"] == "-0.025000"  # 0.35 + 0 - 0.375
    assert totals["unmapped_cost"] == "2.000000"
    assert totals["unpriced_input_tokens"] == 300


def test_reconciliation_as_csv_has_every_row(api_client, bob, ledger):
    api_client.force_authenticate(bob)
    response = api_client.get(
        API, {**RANGE, "period": "day", "format": "csv", "page_size": 1}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 4
    assert "explanations" not in rows[0]
    billed = [Decimal(r["billed_cost"]) for r in rows if r["billed_cost"]]
    assert sum(billed) == Decimal("23.875")
    variances = [Decimal(r["variance"]) for r in rows if r["variance"]]
    assert sum(variances) == Decimal("-0.025")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"start": "2026-02-30"}, "start"),
        ({"end": "tomorrow"}, "end"),
        ({"start": "2026-03-12", "end": "2026-03-10"}, "start"),
        ({"start": "2015-01-01", "end": "2026-01-01"}, "end"),
        ({"period": "week"}, "period"),
    ],
)
def test_bad_parameters_are_400_with_field_errors(api_client, bob, params, field):
    api_client.force_authenticate(bob)
    response = api_client.get(API, params)
    assert response.status_code == 400
    assert field in response.json()
    csv_response = api_client.get(API, {**params, "format": "csv"})
    assert csv_response.status_code == 400
    assert field in csv_response.json()


@pytest.mark.parametrize("role", ["board", "platform", "procurement", "auditor"])
def test_readers_of_everything_see_reconciliation(api_client, cast, ledger, role):
    api_client.force_authenticate(cast[role])
    assert api_client.get(API, RANGE).status_code == 200


def test_a_requester_is_refused_reconciliation(api_client, client, alice, ledger):
    api_client.force_authenticate(alice)
    response = api_client.get(API, RANGE)
    assert response.status_code == 403
    assert "board" in response.json()["detail"]
    client.force_login(alice)
    assert client.get(PAGE, RANGE).status_code == 403
    assert "reconciliation-link" not in client.get("/portfolio/").content.decode()


def test_anonymous_callers_get_401(api_client, ledger):
    assert api_client.get(API, RANGE).status_code == 401


def test_the_page_shows_the_numbers_and_is_linked_from_the_portfolio(
    client, bob, ledger
):
    client.force_login(bob)
    assert "/portfolio/reconciliation/" in client.get("/portfolio/").content.decode()
    response = client.get(PAGE, {**RANGE, "period": "day"})
    assert response.status_code == 200
    page = response.content.decode()
    for text in [
        'id="total-billed" data-exact="23.875000">$23.88',
        'id="total-variance" data-exact="-0.025000">\u2212$0.02',  # half-even
        'data-exact="12.750000">$12.75',
        'data-exact="0.350000">$0.35',
        "2.75%",
        "-5.26%",
        "no report",
        "ft:gpt-x",
        "proj_b",
        "not priced",
    ]:
        assert text in page, text
    assert "GPU box" not in page


def test_the_page_shows_bad_dates_as_errors(client, bob, ledger):
    client.force_login(bob)
    response = client.get(PAGE, {"start": "2026-13-01"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="reconciliation-errors"' in page
    assert "reconciliation-table" not in page


def _count(api_client, params) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        response = api_client.get(API, params)
    assert response.status_code == 200
    return len(queries)


def _fill(days: int, endpoints: list[ServingEndpoint], router) -> None:  # type: ignore[no-untyped-def]
    book = Ledger()
    for n in range(days):
        day = date(2026, 1, 1) + timedelta(days=n)
        for endpoint in endpoints:
            book.add(endpoint, day, cost="1.000000", measure="cost")
            book.add(endpoint, day, cost="0.9", hour=3, model="m", use_case=router)
            book.add(endpoint, day, cost="0.05", hour=4, model="m", project_id="x")
            book.add(endpoint, day, cost=None, hour=5, model="n", tokens=(7, 1))


def test_a_page_costs_the_same_queries_for_5_or_50_days(api_client, bob, alice):
    router = UseCaseFactory(owner=alice, status="live")
    endpoints = [
        ServingEndpointFactory(kind="openai", location="external"),
        ServingEndpointFactory(kind="anthropic", location="external"),
    ]
    api_client.force_authenticate(bob)
    params = {"start": "2026-01-01", "end": "2026-03-31", "period": "day"}
    _fill(5, endpoints, router)
    api_client.get(API, params)  # roles cached from here on
    small = _count(api_client, params)
    UsageSample.objects.all().delete()
    _fill(50, endpoints, router)
    big = _count(api_client, params)
    assert big == small
    body = api_client.get(API, params).json()
    assert body["count"] == 100 and len(body["results"]) == 50
    assert all(len(row["explanations"]) == 2 for row in body["results"])
