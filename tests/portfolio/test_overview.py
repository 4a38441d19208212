"""The portfolio overview page: its numbers, filters, visibility and query count."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.portfolio.queries import add_months, month_start
from tests.factories import TeamFactory, UseCaseFactory, UserFactory

from .conftest import assess, decide

URL = reverse("portfolio:overview")
TWO_PLACES = Decimal("0.01")


@pytest.fixture
def portfolio(usage, today, alice, carol, bob):  # type: ignore[no-untyped-def]
    """Three live use-cases in two teams, two vendors, spend over four months."""
    router = UseCaseFactory(title="Email router", owner=alice, status="live")
    triage = UseCaseFactory(title="Claims triage", owner=alice, status="live")
    notes = UseCaseFactory(title="Discharge notes", owner=carol, status="live")
    assess(router, "proprietary_api", "1000.00")
    decide(router, "hybrid", bob)
    assess(triage, "open_source_self_hosted", "300.00")
    openai = usage.endpoint("openai")
    anthropic = usage.endpoint("anthropic")
    for days_ago, cost in [(0, "12.50"), (3, "40.25"), (20, "7.10"), (45, "99.99")]:
        day = today - timedelta(days=days_ago)
        usage.add(endpoint=openai, use_case=router, day=day, requests=100, cost=cost)
        usage.add(
            endpoint=anthropic, use_case=notes, day=day, requests=10, cost="1.111111"
        )
    usage.add(
        endpoint=anthropic,
        use_case=triage,
        day=today - timedelta(days=100),
        requests=5,
        cost="3.000001",
    )
    usage.rollup()
    return {"router": router, "triage": triage, "notes": notes}


def _on_or_after(start):  # type: ignore[no-untyped-def]
    return lambda s: s.bucket_start.date() >= start


def test_it_shows_the_sums_of_the_raw_usage(client, bob, usage, portfolio, today):
    client.force_login(bob)
    response = client.get(URL, {"period": "90d"})
    assert response.status_code == 200
    overview = response.context["overview"]
    start = today - timedelta(days=89)
    in_period = _on_or_after(start)
    assert overview.period_cost == usage.total(a=in_period)
    assert overview.mtd_cost == usage.total(a=_on_or_after(month_start(today)))
    assert overview.last30_cost == usage.total(
        a=_on_or_after(today - timedelta(days=29))
    )
    assert overview.period_requests == sum(
        s.requests for s in usage.samples if in_period(s)
    )
    vendors = dict(overview.by_vendor.totals)
    assert vendors["OpenAI"] == usage.total(
        a=in_period, b=lambda s: s.endpoint.kind == "openai"
    )
    assert vendors["Anthropic"] == usage.total(
        a=in_period, b=lambda s: s.endpoint.kind == "anthropic"
    )
    teams = dict(overview.by_team.totals)
    for team_name in ("Claims", "Health"):
        assert teams[team_name] == usage.total(
            a=in_period, b=lambda s, n=team_name: s.team.name == n
        )
    rows = {row.title: row for row in overview.use_cases}
    router = portfolio["router"]
    assert rows["Email router"].last30_cost == usage.total(
        a=_on_or_after(today - timedelta(days=29)), b=lambda s: s.use_case == router
    )
    # The page prints the same total, to the cent.
    expected = f"${usage.total(a=in_period).quantize(TWO_PLACES):,.2f}"
    assert expected in response.content.decode()


def test_it_sums_each_month_of_the_stacked_charts_from_the_raw_usage(
    client, bob, usage, portfolio, today
):
    client.force_login(bob)
    overview = client.get(URL, {"period": "12m"}).context["overview"]
    assert overview.by_vendor.months[0] == add_months(today, -11)
    for i, month in enumerate(overview.by_vendor.months):
        in_month = lambda s, m=month: month_start(s.bucket_start.date()) == m  # noqa: E731
        assert overview.by_vendor.month_totals[i] == usage.total(a=in_month)
        assert overview.by_team.month_totals[i] == usage.total(a=in_month)
    assert overview.by_vendor.total == usage.total()


def test_allocation_takes_the_boards_pattern_over_the_framework_outcome(
    client, bob, portfolio, alice
):
    UseCaseFactory(title="Draft idea", owner=alice, status="draft")
    UseCaseFactory(title="Unassessed", owner=alice, status="submitted")
    client.force_login(bob)
    overview = client.get(URL).context["overview"]
    counts = {row.outcome: row.use_cases for row in overview.allocation}
    # router: assessed proprietary, decided hybrid; triage: self-hosted; notes: none.
    assert counts == {
        "open_source_self_hosted": 1,
        "open_source_managed": 0,
        "proprietary_api": 0,
        "hybrid": 1,
        "not_assessed": 2,
    }
    hybrid = next(row for row in overview.allocation if row.outcome == "hybrid")
    router = next(row for row in overview.use_cases if row.title == "Email router")
    assert hybrid.period_cost == router.period_cost
    assert hybrid.requests_per_day == router.period_requests / overview.days


def test_estimate_against_actual_shows_the_gap(client, bob, usage, portfolio, today):
    client.force_login(bob)
    overview = client.get(URL).context["overview"]
    router = next(row for row in overview.estimates if row.title == "Email router")
    actual = usage.total(
        a=_on_or_after(today - timedelta(days=29)),
        b=lambda s: s.use_case_id == portfolio["router"].pk,
    )
    assert router.estimate == Decimal("1000.00")
    assert router.gap == actual - Decimal("1000.00")
    triage = next(row for row in overview.estimates if row.title == "Claims triage")
    assert triage.last30_cost == 0 and triage.gap == Decimal("-300.00")


def test_it_lists_the_use_cases_flagged_for_reassessment(client, bob, portfolio):
    from django.utils import timezone

    triage = portfolio["triage"]
    triage.reassessment_flagged_at = timezone.now()
    triage.reassessment_reason = "Volume crossed the break-even of 50,000 a day."
    triage.save(update_fields=["reassessment_flagged_at", "reassessment_reason"])
    client.force_login(bob)
    response = client.get(URL)
    assert [row.title for row in response.context["overview"].flagged] == [
        "Claims triage"
    ]
    assert "Volume crossed the break-even" in response.content.decode()


def test_team_filter_narrows_charts_and_tables(client, bob, usage, portfolio, claims):
    client.force_login(bob)
    overview = client.get(URL, {"team": claims.pk, "period": "12m"}).context["overview"]
    assert {row.team for row in overview.use_cases} == {"Claims"}
    assert [label for label, _ in overview.by_team.totals] == ["Claims"]
    assert overview.period_cost == usage.total(a=lambda s: s.team_id == claims.pk)


def test_outcome_filter_keeps_only_that_outcomes_spend(client, bob, usage, portfolio):
    client.force_login(bob)
    overview = client.get(URL, {"outcome": "hybrid", "period": "12m"}).context[
        "overview"
    ]
    assert [row.title for row in overview.use_cases] == ["Email router"]
    assert overview.period_cost == usage.total(
        a=lambda s: s.use_case_id == portfolio["router"].pk
    )


def test_it_ignores_filter_values_it_does_not_offer(client, bob, portfolio):
    client.force_login(bob)
    response = client.get(URL, {"team": "x", "outcome": "magic", "period": "1y"})
    assert response.status_code == 200
    filters = response.context["overview"].filters
    assert (filters.team_id, filters.outcome, filters.period) == (None, None, "6m")


def test_an_htmx_filter_returns_only_the_results_fragment(client, bob, portfolio):
    client.force_login(bob)
    response = client.get(URL, {"period": "30d"}, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="results"')
    assert "<html" not in body and 'data-period="30d"' in body
    assert 'data-plotly="fig-vendor"' in body


def test_charts_are_plotly_json_in_json_script(client, bob, portfolio):
    import json

    client.force_login(bob)
    response = client.get(URL)
    body = response.content.decode()
    assert 'data-plotly-src="/static/plotly/plotly' in body and "js/charts.js" in body
    assert 'src="http' not in body  # nothing from a CDN
    for name in ("allocation", "vendor", "team", "top", "estimate"):
        figure = response.context["figures"][name]
        assert json.loads(json.dumps(figure))["data"], name
        assert f'id="fig-{name}"' in body


def test_it_shows_an_empty_state_without_use_cases_or_spend(client, bob):
    client.force_login(bob)
    response = client.get(URL)
    assert response.status_code == 200
    assert "Nothing to show" in response.content.decode()
    assert response.context["figures"]["vendor"] is None


def test_requester_sees_only_their_teams_use_cases_and_spend(
    client, alice, usage, portfolio, today
):
    # Another team's internal live use-case is visible to alice on its own page,
    # but her portfolio is her team's.
    client.force_login(alice)
    overview = client.get(URL, {"period": "12m"}).context["overview"]
    assert {row.title for row in overview.use_cases} == {
        "Email router",
        "Claims triage",
    }
    assert overview.period_cost == usage.total(
        a=lambda s: s.use_case.team.name == "Claims"
    )
    assert [label for label, _ in overview.by_team.totals] == ["Claims"]
    assert [label for label, _ in overview.by_vendor.totals] == ["OpenAI", "Anthropic"]


def test_requester_cannot_filter_to_another_team(client, alice, portfolio, health):
    client.force_login(alice)
    overview = client.get(URL, {"team": health.pk}).context["overview"]
    assert overview.filters.team_id is None
    assert "Discharge notes" not in {row.title for row in overview.use_cases}


def test_requester_never_sees_another_teams_restricted_use_case(client, alice, carol):
    UseCaseFactory(
        title="Secret", owner=carol, status="live", data_classification="restricted"
    )
    client.force_login(alice)
    response = client.get(URL)
    assert "Secret" not in response.content.decode()


@pytest.mark.parametrize("role", ["board", "platform", "procurement", "auditor"])
def test_every_reading_role_opens_the_portfolio(client, role, portfolio):
    client.force_login(UserFactory(role=role))
    response = client.get(URL)
    assert response.status_code == 200
    assert len(response.context["overview"].use_cases) == 3


def test_a_user_without_a_role_is_refused(client, db):
    client.force_login(UserFactory())
    assert client.get(URL).status_code == 403


def test_anonymous_is_sent_to_sign_in(client, db):
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_the_nav_links_to_the_portfolio(client, alice):
    client.force_login(alice)
    response = client.get(reverse("usecases:list"))
    assert f'href="{URL}"' in response.content.decode()


def _grow(usage, today, n: int, team, bob) -> None:  # type: ignore[no-untyped-def]
    endpoint = usage.endpoint("openai")
    owner = UserFactory(team=team, role="requester")
    for i in range(n):
        use_case = UseCaseFactory(owner=owner, status="live")
        assess(use_case, "proprietary_api", "10.00")
        if i % 2:
            decide(use_case, "hybrid", bob)
        for days_ago in (1, 40):
            usage.add(
                endpoint=endpoint,
                use_case=use_case,
                day=today - timedelta(days=days_ago),
                requests=3,
                cost="1.5",
            )
    usage.rollup()


def _count(client, params):  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(URL, params).status_code == 200
    return len(ctx.captured_queries)


def test_it_makes_the_same_number_of_queries_for_5_or_50_use_cases(
    client, bob, usage, today, claims
):
    from apps.portfolio.models import Budget

    Budget.objects.create(team=claims, monthly_amount=100)
    _grow(usage, today, 5, claims, bob)
    client.force_login(bob)
    small = _count(client, {"period": "12m"})
    _grow(usage, today, 45, TeamFactory(), bob)
    large = _count(client, {"period": "12m"})
    # Session, user, roles; the use-cases; per use-case the days (leftover days,
    # this month, the last 30) and the whole months; by vendor and team the days
    # and the months; budgets and their spend; the user's and groups' permissions
    # (the menu); the teams (the filter); the bell's unread count.
    assert small == large == 14


def test_a_requester_page_also_makes_a_constant_number_of_queries(
    client, alice, bob, usage, today, claims
):
    _grow(usage, today, 5, claims, bob)
    client.force_login(alice)
    small = _count(client, {})
    _grow(usage, today, 30, claims, bob)
    assert _count(client, {}) == small
