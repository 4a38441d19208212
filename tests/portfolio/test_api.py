"""`/api/v1/portfolio/summary/` and `/api/v1/spend/`."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest

from apps.accounts.models import ApiToken
from apps.portfolio.queries import add_months, month_start
from tests.factories import UseCaseFactory

from .conftest import assess

SPEND = "/api/v1/spend/"
SUMMARY = "/api/v1/portfolio/summary/"


@pytest.fixture
def data(usage, today, alice, carol):  # type: ignore[no-untyped-def]
    router = UseCaseFactory(title="Email router", owner=alice, status="live")
    notes = UseCaseFactory(title="Discharge notes", owner=carol, status="live")
    assess(router, "hybrid", "100.00")
    openai = usage.endpoint("openai")
    anthropic = usage.endpoint("anthropic")
    for days_ago in (0, 1, 40, 75):
        day = today - timedelta(days=days_ago)
        usage.add(endpoint=openai, use_case=router, day=day, requests=7, cost="3.25")
        usage.add(
            endpoint=anthropic,
            use_case=notes,
            day=day,
            requests=2,
            cost="0.5",
            model="claude-sonnet-4",
        )
    usage.rollup()
    return {"router": router, "notes": notes}


def _month(sample):  # type: ignore[no-untyped-def]
    return month_start(sample.bucket_start.date()).strftime("%Y-%m")


def test_spend_by_vendor_and_month_equals_the_raw_usage(api_client, bob, data, usage):
    api_client.force_authenticate(bob)
    response = api_client.get(SPEND, {"group_by": "vendor"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) >= {"count", "next", "previous", "results"}
    assert body["count"] == len(body["results"])
    for row in body["results"]:
        kind = {"OpenAI": "openai", "Anthropic": "anthropic"}[row["key"]]
        expected = usage.total(
            a=lambda s, k=kind: s.endpoint.kind == k,
            b=lambda s, m=row["period"]: _month(s) == m,
        )
        assert Decimal(row["cost"]) == expected.quantize(Decimal("0.01"))
    assert sum(Decimal(r["cost"]) for r in body["results"]) == usage.total()


@pytest.mark.parametrize("group_by", ["use_case", "team", "model", "vendor"])
def test_spend_groups_by_each_dimension(api_client, bob, data, usage, group_by):
    api_client.force_authenticate(bob)
    body = api_client.get(SPEND, {"group_by": group_by, "period": "month"}).json()
    assert {row["group_by"] for row in body["results"]} == {group_by}
    assert sum(Decimal(r["cost"]) for r in body["results"]) == usage.total()
    assert sum(r["requests"] for r in body["results"]) == sum(
        s.requests for s in usage.samples
    )


def test_spend_by_use_case_names_the_use_case(api_client, bob, data):
    api_client.force_authenticate(bob)
    body = api_client.get(SPEND, {"group_by": "use_case"}).json()
    labels = {(row["key"], row["label"]) for row in body["results"]}
    assert labels == {
        (str(data["router"].pk), "Email router"),
        (str(data["notes"].pk), "Discharge notes"),
    }


def test_spend_honours_start_and_end(api_client, bob, data, usage, today):
    start = today - timedelta(days=1)
    api_client.force_authenticate(bob)
    body = api_client.get(
        SPEND,
        {"group_by": "team", "period": "day", "start": start, "end": today},
    ).json()
    assert {row["period"] for row in body["results"]} <= {
        start.isoformat(),
        today.isoformat(),
    }
    assert sum(Decimal(r["cost"]) for r in body["results"]) == usage.total(
        a=lambda s: s.bucket_start.date() >= start
    )


def test_spend_is_paginated(api_client, bob, data):
    api_client.force_authenticate(bob)
    first = api_client.get(
        SPEND, {"group_by": "use_case", "period": "day", "page_size": 3}
    ).json()
    assert len(first["results"]) == 3 and first["count"] == 8
    assert first["previous"] is None and "page=2" in first["next"]
    second = api_client.get(first["next"]).json()
    assert second["previous"] is not None
    seen = {(r["period"], r["key"]) for r in first["results"] + second["results"]}
    assert len(seen) == 6


def test_spend_as_csv_gives_every_row(api_client, bob, data, usage):
    api_client.force_authenticate(bob)
    response = api_client.get(
        SPEND, {"group_by": "model", "format": "csv", "page_size": 1}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(rows[0]) == [
        "period",
        "group_by",
        "key",
        "label",
        "requests",
        "input_tokens",
        "output_tokens",
        "cost",
    ]
    assert sum(Decimal(r["cost"]) for r in rows) == usage.total()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "group_by"),
        ({"group_by": "password"}, "group_by"),
        ({"group_by": "vendor", "start": "yesterday"}, "start"),
        ({"group_by": "vendor", "end": "2025-02-30"}, "end"),
        ({"group_by": "vendor", "start": "2025-05-01", "end": "2025-04-01"}, "start"),
        ({"group_by": "vendor", "start": "2015-01-01", "end": "2025-01-01"}, "end"),
        ({"group_by": "vendor", "period": "fortnight"}, "period"),
    ],
)
def test_bad_spend_parameters_are_400_with_field_errors(api_client, bob, params, field):
    api_client.force_authenticate(bob)
    response = api_client.get(SPEND, params)
    assert response.status_code == 400
    assert field in response.json()


def test_bad_parameters_are_json_even_when_csv_was_asked_for(api_client, bob):
    api_client.force_authenticate(bob)
    response = api_client.get(SPEND, {"group_by": "x", "format": "csv"})
    assert response.status_code == 400
    assert response.json()["group_by"]


def test_a_requester_gets_only_their_teams_spend(api_client, alice, data, usage):
    api_client.force_authenticate(alice)
    body = api_client.get(SPEND, {"group_by": "use_case"}).json()
    assert {row["key"] for row in body["results"]} == {str(data["router"].pk)}
    assert sum(Decimal(r["cost"]) for r in body["results"]) == usage.total(
        a=lambda s: s.use_case == data["router"]
    )


def test_spend_needs_authentication_and_a_role(api_client, django_user_model):
    assert api_client.get(SPEND, {"group_by": "vendor"}).status_code in (401, 403)
    api_client.force_authenticate(django_user_model.objects.create_user("nobody"))
    assert api_client.get(SPEND, {"group_by": "vendor"}).status_code == 403


def test_a_read_only_token_reads_spend(api_client, paul, data):
    _, key = ApiToken.issue(user=paul, name="procurement tool", scope="read")
    response = api_client.get(
        SPEND, {"group_by": "vendor"}, HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 200
    assert response.json()["count"] > 0


def test_the_summary_has_the_overviews_numbers(api_client, bob, data, usage, today):
    api_client.force_authenticate(bob)
    response = api_client.get(SUMMARY, {"period": "90d"})
    assert response.status_code == 200
    body = response.json()
    start = today - timedelta(days=89)
    assert body["period"]["start"] == start.isoformat()
    assert Decimal(body["totals"]["spend_in_period"]) == usage.total(
        a=lambda s: s.bucket_start.date() >= start
    ).quantize(Decimal("0.01"))
    allocation = {row["outcome"]: row for row in body["allocation"]}
    assert allocation["hybrid"]["use_cases"] == 1
    assert allocation["not_assessed"]["use_cases"] == 1
    assert {row["label"] for row in body["spend_by_vendor"]} == {"OpenAI", "Anthropic"}
    assert len(body["months"]) == len(body["spend_by_vendor"][0]["values"])
    router = next(r for r in body["estimates"] if r["id"] == data["router"].pk)
    assert Decimal(router["estimate_monthly"]) == Decimal("100.00")
    assert Decimal(router["gap"]) == Decimal(router["actual_last_30_days"]) - 100
    assert body["top_use_cases"][0]["id"] == data["router"].pk


def test_the_summary_for_a_requester_is_their_team(api_client, alice, data):
    api_client.force_authenticate(alice)
    body = api_client.get(SUMMARY).json()
    assert [r["title"] for r in body["estimates"]] == ["Email router"]
    assert {row["label"] for row in body["spend_by_team"]} == {"Claims"}


def test_a_requester_may_not_ask_for_another_teams_summary(api_client, alice, health):
    api_client.force_authenticate(alice)
    response = api_client.get(SUMMARY, {"team": health.pk})
    # A refusal of the role, as the schema documents (403), not bad input.
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "forever"}, "period"),
        ({"outcome": "x"}, "outcome"),
        ({"team": 999}, "team"),
    ],
)
def test_bad_summary_parameters_are_400(api_client, bob, params, field):
    api_client.force_authenticate(bob)
    response = api_client.get(SUMMARY, params)
    assert response.status_code == 400 and field in response.json()


def test_the_schema_documents_both_endpoints(api_client, bob):
    api_client.force_authenticate(bob)
    response = api_client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "group_by" in str(paths["/api/v1/spend/"]["get"]["parameters"])
    assert "/api/v1/portfolio/summary/" in paths


def test_last_months_spend_matches_between_summary_and_spend(
    api_client, bob, data, today
):
    last = add_months(today, -1)
    api_client.force_authenticate(bob)
    spend = api_client.get(
        SPEND, {"group_by": "vendor", "start": last, "end": today}
    ).json()
    summary = api_client.get(SUMMARY, {"period": "month"}).json()
    this_month = sum(
        Decimal(r["cost"])
        for r in spend["results"]
        if r["period"] == today.strftime("%Y-%m")
    )
    assert Decimal(summary["totals"]["spend_this_month"]) == this_month


def _queries(api_client, url, params):  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert api_client.get(url, params).status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize(
    ("url", "params"),
    [(SPEND, {"group_by": "use_case", "period": "day"}), (SUMMARY, {})],
)
def test_the_api_makes_the_same_number_of_queries_whatever_the_data(
    api_client, bob, usage, today, alice, url, params
):
    endpoint = usage.endpoint("openai")

    def grow(n: int) -> None:
        for _ in range(n):
            use_case = UseCaseFactory(owner=alice, status="live")
            assess(use_case, "hybrid", "5.00")
            for days_ago in (0, 3):
                usage.add(
                    endpoint=endpoint,
                    use_case=use_case,
                    day=today - timedelta(days=days_ago),
                    requests=1,
                    cost="1",
                )
        usage.rollup()

    api_client.force_authenticate(bob)
    grow(3)
    _queries(api_client, url, params)  # the user's roles are cached from here on
    small = _queries(api_client, url, params)
    grow(30)
    assert _queries(api_client, url, params) == small
