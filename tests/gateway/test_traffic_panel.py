"""The "Gateway traffic" panel of the use-case page, and gateway spend in the
portfolio totals.

Numbers come from hand-built ledger rows; every expected value below is worked
out by hand (percentiles as PostgreSQL's ``percentile_cont``: linear
interpolation at ``fraction * (n - 1)``).
"""

from __future__ import annotations

import itertools
import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.endpoints.models import DailyUsage
from apps.gateway import metering
from apps.gateway.models import GatewayUsage
from apps.portfolio.models import Budget
from apps.reviews.models import Decision
from apps.usecases.models import AuditEvent
from tests.factories import ServingEndpointFactory, UseCaseFactory, UserFactory

pytestmark = pytest.mark.django_db

_ids = itertools.count(1)
DASH = "\u2013"  # what the panel shows for "none"


@pytest.fixture
def approved(alice, llama, openai):  # type: ignore[no-untyped-def]
    """Classification on Llama in-house, the OpenAI API as fallback."""
    use_case = UseCaseFactory(owner=alice, status="approved", title="Claims triage")
    Decision.objects.create(
        use_case=use_case,
        outcome="approved",
        pattern="hybrid",
        routes=[
            {
                "workload": "classification",
                "targets": [
                    {"endpoint": llama.pk, "model": "llama-3.1-8b", "weight": 1}
                ],
                "fallback": [
                    {"endpoint": openai.pk, "model": "gpt-4o-mini", "weight": 1}
                ],
            }
        ],
        decided_by=UserFactory(role="board"),
    )
    return use_case


def served(  # type: ignore[no-untyped-def]
    use_case,
    endpoint,
    model: str,
    *,
    latency_ms: int,
    workload: str = "classification",
    input_tokens: int = 0,
    output_tokens: int = 0,
    cost: str | None = None,
    estimated: bool = False,
    ago: timedelta = timedelta(minutes=5),
) -> GatewayUsage:
    at = timezone.now() - ago
    return GatewayUsage.objects.create(
        request_id=f"gw-test-{next(_ids)}",
        use_case=use_case,
        workload=workload,
        endpoint=endpoint,
        model=model,
        bucket_start=at.replace(minute=0, second=0, microsecond=0),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost=Decimal(cost) if cost is not None else None,
        estimated=estimated,
        latency_ms=latency_ms,
        created_at=at,
    )


def refused(use_case, code: str, count: int) -> AuditEvent:  # type: ignore[no-untyped-def]
    return AuditEvent.objects.create(
        kind="gateway.refused",
        summary=f"Gateway refused {count} request(s)",
        use_case=use_case,
        data={"key": None, "code": code, "count": count, "minute": "2025-01-01"},
    )


def traffic_url(use_case, period: str | None = None) -> str:  # type: ignore[no-untyped-def]
    url = reverse("gateway_keys:traffic", args=[use_case.pk])
    return f"{url}?period={period}" if period else url


def route_rows(html: str) -> dict[str, list[str]]:
    """The traffic table: ``workload|endpoint id|model`` → the cells' text."""
    rows = {}
    for route, body in re.findall(
        r'<tr data-route="([^"]*)">(.*?)</tr>', html, flags=re.DOTALL
    ):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", body, flags=re.DOTALL)
        rows[unescape(route)] = [
            " ".join(unescape(re.sub(r"<[^>]+>", "", c)).split()) for c in cells
        ]
    return rows


def panel(client, user, use_case, period: str | None = None) -> str:  # type: ignore[no-untyped-def]
    client.force_login(user)
    response = client.get(traffic_url(use_case, period), headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def traffic(approved, llama, openai, carol):  # type: ignore[no-untyped-def]
    """Hand-built requests in the last 24 hours, one older, one of another use-case."""
    for latency, tokens_in, tokens_out, estimated in [
        (400, 40, 4, False),
        (100, 10, 1, True),
        (300, 30, 3, False),
        (200, 20, 2, False),
    ]:
        served(
            approved,
            llama,
            "llama-3.1-8b",
            latency_ms=latency,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            estimated=estimated,
        )
    for latency in (1000, 10, 40, 20, 30):
        served(
            approved,
            openai,
            "gpt-4o-mini",
            latency_ms=latency,
            input_tokens=1_000,
            output_tokens=100,
            cost="0.123456",
        )
    # Two days ago: in the last 7 days, not in the last 24 hours.
    served(
        approved,
        llama,
        "llama-3.1-8b",
        latency_ms=9_999,
        input_tokens=5,
        output_tokens=5,
        ago=timedelta(days=2),
    )
    # Traffic of a decision no longer in force.
    served(
        approved,
        openai,
        "gpt-4o",
        workload="summarisation",
        latency_ms=700,
        input_tokens=7,
        output_tokens=7,
        cost="1.000000",
    )
    other = UseCaseFactory(owner=carol, status="approved")
    served(other, llama, "llama-3.1-8b", latency_ms=5, input_tokens=999)
    return approved


class TestNumbers:
    def test_it_shows_each_routes_requests_tokens_spend_and_percentiles(
        self, client, alice, traffic, llama, openai
    ):
        rows = route_rows(panel(client, alice, traffic))
        # Requests, input, output, spend, estimated share, p50, p95.
        # Llama: latencies 100..400 → p50 = 250; p95 at 2.85 → 300 + 0.85 * 100.
        assert rows[f"classification|{llama.pk}|llama-3.1-8b"] == [
            "classification",
            "Llama box / llama-3.1-8b",
            "4",
            "100",
            "10",
            DASH,
            "25%",
            "250 ms",
            "385 ms",
        ]
        # OpenAI: 10, 20, 30, 40, 1000 → p50 = 30; p95 at 3.8 → 40 + 0.8 * 960.
        # Spend 5 * 0.123456 = 0.617280, shown rounded, exact in the title.
        assert rows[f"classification|{openai.pk}|gpt-4o-mini"] == [
            "classification",
            "OpenAI / gpt-4o-mini (fallback)",
            "5",
            "5,000",
            "500",
            "$0.62",
            "0%",
            "30 ms",
            "808 ms",
        ]
        assert rows[f"summarisation|{openai.pk}|gpt-4o"] == [
            "summarisation",
            "OpenAI / gpt-4o (no longer routed)",
            "1",
            "7",
            "7",
            "$1.00",
            "0%",
            "700 ms",
            "700 ms",
        ]
        assert len(rows) == 3

    def test_the_exact_spend_is_kept_for_the_title(
        self, client, alice, traffic, openai
    ):
        html = panel(client, alice, traffic)
        assert 'title="0.617280 USD"' in html

    def test_the_period_selector_widens_the_window(self, client, alice, traffic, llama):
        rows = route_rows(panel(client, alice, traffic, "7d"))
        # Llama now has 100, 200, 300, 400, 9999: p50 = 300; p95 at 3.8 →
        # 400 + 0.8 * 9599 = 8079.2.
        llama_row = rows[f"classification|{llama.pk}|llama-3.1-8b"]
        assert llama_row[2:5] == ["5", "105", "15"]
        assert llama_row[7:] == ["300 ms", "8079 ms"]

    def test_the_period_links_work_without_htmx(self, client, alice, traffic):
        client.force_login(alice)
        response = client.get(traffic_url(traffic, "30d"))
        html = response.content.decode()
        assert response.status_code == 200
        assert "<html" in html
        for period in ("24h", "7d", "30d"):
            assert f'href="{traffic_url(traffic, period)}"' in html
        assert 'aria-current="page">Last 30 days' in html

    def test_an_unknown_period_is_a_clear_400(self, client, alice, traffic):
        client.force_login(alice)
        response = client.get(traffic_url(traffic, "1y"))
        assert response.status_code == 400
        assert "choose one of 24h, 7d, 30d" in response.content.decode()

    def test_routes_in_force_without_traffic_show_zeros_and_the_empty_state(
        self, client, alice, approved, llama
    ):
        html = panel(client, alice, approved)
        rows = route_rows(html)
        assert rows[f"classification|{llama.pk}|llama-3.1-8b"][2:] == [
            "0",
            "0",
            "0",
            DASH,
            DASH,
            DASH,
            DASH,
        ]
        assert "No gateway traffic in the last 24 hours." in html

    def test_a_use_case_without_routes_or_traffic_shows_only_the_empty_state(
        self, client, alice
    ):
        draft = UseCaseFactory(owner=alice)
        html = panel(client, alice, draft)
        assert route_rows(html) == {}
        assert "No gateway traffic in the last 24 hours." in html


class TestRefusals:
    def test_it_sums_the_folded_refusals_by_code_in_the_period(
        self, client, alice, approved, carol
    ):
        refused(approved, "rate_limit_exceeded", 3)
        refused(approved, "rate_limit_exceeded", 2)
        refused(approved, "budget_exceeded", 4)
        with mock.patch(
            "django.utils.timezone.now",
            return_value=datetime.now(UTC) - timedelta(days=3),
        ):
            refused(approved, "budget_exceeded", 100)
        refused(UseCaseFactory(owner=carol), "budget_exceeded", 50)
        html = panel(client, alice, approved)
        refusals = re.search(r'<ul id="gateway-refusals">(.*?)</ul>', html, re.DOTALL)
        assert refusals is not None
        items = [
            " ".join(re.sub(r"<[^>]+>", "", li).split())
            for li in re.findall(r"<li>(.*?)</li>", refusals.group(1), re.DOTALL)
        ]
        assert items == ["rate_limit_exceeded: 5", "budget_exceeded: 4"]
        assert "No gateway traffic" not in html
        week = panel(client, alice, approved, "7d")
        assert "<code>budget_exceeded</code>: 104" in week


class TestBudgets:
    def spend(self, use_case, endpoint, cost: str) -> None:  # type: ignore[no-untyped-def]
        DailyUsage.objects.create(
            date=datetime.now(UTC).date(),
            endpoint=endpoint,
            use_case=use_case,
            team=use_case.team,
            model="gpt-4o-mini",
            requests=10,
            cost=Decimal(cost),
        )

    def budget_items(self, html: str) -> list[str]:
        found = re.search(r'<ul id="gateway-budgets">(.*?)</ul>', html, re.DOTALL)
        assert found is not None
        return [
            " ".join(unescape(re.sub(r"<[^>]+>", "", li)).split())
            for li in re.findall(r"<li[^>]*>(.*?)</li>", found.group(1), re.DOTALL)
        ]

    def test_a_reached_hard_budget_says_requests_are_refused(
        self, client, alice, approved, openai
    ):
        Budget.objects.create(
            use_case=approved, monthly_amount=Decimal("10.00"), enforcement="hard"
        )
        Budget.objects.create(
            team=approved.team, monthly_amount=Decimal("100.00"), enforcement="soft"
        )
        self.spend(approved, openai, "7.500000")
        self.spend(approved, openai, "4.500000")
        # Another use-case of the team counts for the team budget only.
        self.spend(UseCaseFactory(owner=alice), openai, "8.000000")
        items = self.budget_items(panel(client, alice, approved))
        assert items[0].startswith(
            "Use-case budget: $12.00 of $10.00 (120%) spent month to date · hard"
        )
        assert "requests refused" in items[0]
        assert items[1] == (
            "Team budget: $20.00 of $100.00 (20%) spent month to date · soft"
        )

    def test_a_hard_budget_not_yet_reached_refuses_nothing(
        self, client, alice, approved, openai
    ):
        Budget.objects.create(
            use_case=approved, monthly_amount=Decimal("10.00"), enforcement="hard"
        )
        self.spend(approved, openai, "9.990000")
        items = self.budget_items(panel(client, alice, approved))
        assert items == [
            "Use-case budget: $9.99 of $10.00 (100%) spent month to date · hard"
        ]

    def test_a_reached_soft_budget_only_warns(self, client, alice, approved, openai):
        Budget.objects.create(
            use_case=approved, monthly_amount=Decimal("5.00"), enforcement="soft"
        )
        self.spend(approved, openai, "5.000000")
        (item,) = self.budget_items(panel(client, alice, approved))
        assert "· soft · reached" in item
        assert "requests refused" not in item

    def test_other_use_cases_budgets_are_not_shown(
        self, client, alice, approved, carol
    ):
        Budget.objects.create(
            use_case=UseCaseFactory(owner=alice), monthly_amount=Decimal("1.00")
        )
        Budget.objects.create(team=carol.team, monthly_amount=Decimal("1.00"))
        html = panel(client, alice, approved)
        assert 'id="gateway-budgets"' not in html


class TestVisibility:
    @pytest.mark.parametrize("role", ["requester", "board", "platform", "auditor"])
    def test_the_owner_platform_board_and_auditors_see_the_traffic(
        self, client, cast, traffic, role
    ):
        assert "385 ms" in panel(client, cast[role], traffic)

    def test_a_team_mate_of_the_owner_sees_the_traffic(self, client, claims, traffic):
        team_mate = UserFactory(team=claims, role="requester")
        assert "385 ms" in panel(client, team_mate, traffic)

    @pytest.mark.parametrize("role", ["procurement", "other_requester"])
    def test_procurement_and_other_teams_are_refused(self, client, cast, traffic, role):
        rows_before = GatewayUsage.objects.count()
        client.force_login(cast[role])
        response = client.get(traffic_url(traffic))
        assert response.status_code == 403
        assert "385 ms" not in response.content.decode()
        assert GatewayUsage.objects.count() == rows_before

    def test_another_teams_restricted_use_case_is_not_found(
        self, client, carol, alice, llama
    ):
        hidden = UseCaseFactory(owner=alice, data_classification="restricted")
        served(hidden, llama, "llama-3.1-8b", latency_ms=123)
        client.force_login(carol)
        response = client.get(traffic_url(hidden))
        assert response.status_code == 404
        assert "123 ms" not in response.content.decode()

    def test_anonymous_visitors_are_sent_to_sign_in(self, client, traffic):
        response = client.get(traffic_url(traffic))
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]

    def test_the_use_case_page_loads_the_traffic_panel(self, client, alice, approved):
        client.force_login(alice)
        page = client.get(approved.get_absolute_url()).content.decode()
        assert f'hx-get="{traffic_url(approved)}"' in page
        assert "Gateway traffic" in page


class TestQueries:
    def fill(self, use_case, endpoints, n: int) -> None:  # type: ignore[no-untyped-def]
        for i in range(n):
            endpoint = endpoints[i % len(endpoints)]
            served(
                use_case,
                endpoint,
                f"model-{i % 10}",
                workload="classification",
                latency_ms=10 * i,
                input_tokens=i,
                cost="0.010000",
            )

    def queries(self, client, use_case) -> int:  # type: ignore[no-untyped-def]
        with CaptureQueriesContext(connection) as captured:
            response = client.get(traffic_url(use_case), headers={"HX-Request": "true"})
        assert response.status_code == 200
        return len(captured)

    def test_the_panel_makes_the_same_queries_for_5_rows_or_50_on_10_routes(
        self, client, alice, approved, openai
    ):
        Budget.objects.create(use_case=approved, monthly_amount=Decimal("10.00"))
        refused(approved, "rate_limit_exceeded", 1)
        endpoints = [openai, ServingEndpointFactory(), ServingEndpointFactory()]
        client.force_login(alice)
        self.fill(approved, endpoints[:1], 5)
        few = self.queries(client, approved)
        self.fill(approved, endpoints, 45)
        many_response = client.get(
            traffic_url(approved), headers={"HX-Request": "true"}
        )
        assert len(route_rows(many_response.content.decode())) > 10
        many = self.queries(client, approved)
        assert few == many
        # Session, user, roles, the use-case, the grouped usage, the latency
        # sample (PostgreSQL computes percentiles in the grouped query), the
        # decision, endpoint names, refusals, budgets and their spend.
        latency_sample = 0 if connection.vendor == "postgresql" else 1
        assert many == 10 + latency_sample


class TestPortfolio:
    def test_the_portfolio_summary_includes_a_gateway_requests_cost(
        self, api_client, root, alice
    ):
        use_case = UseCaseFactory(owner=alice, status="live", title="Through gateway")
        endpoint = ServingEndpointFactory(
            name="Priced API",
            kind="openai_compatible",
            location="external",
            base_url="http://127.0.0.1:9",
            input_usd_per_mtok=Decimal("2.50"),
            output_usd_per_mtok=Decimal("10.00"),
            served_models=["house-model"],
        )
        api_client.force_authenticate(root)
        url = "/api/v1/portfolio/summary/?period=month"
        before = api_client.get(url).json()["totals"]
        assert Decimal(before["spend_this_month"]) == Decimal(0)
        entry: dict[str, Any] = {
            "id": "gw-portfolio-1",
            "use_case": use_case.pk,
            "workload": "classification",
            "endpoint": endpoint.pk,
            "model": "house-model",
            "status": 200,
            "at": time.time(),
            "input_tokens": 100_000,
            "output_tokens": 20_000,
            "latency_ms": 120,
        }
        metering.write_entries([entry])
        after = api_client.get(url).json()
        # 100,000 * 2.50 / 1e6 + 20,000 * 10.00 / 1e6 = 0.25 + 0.20.
        assert Decimal(after["totals"]["spend_this_month"]) == Decimal("0.45")
        assert Decimal(after["totals"]["spend_in_period"]) == Decimal("0.45")
        assert after["totals"]["requests_in_period"] == 1
        top = {row["id"]: row for row in after["top_use_cases"]}
        assert Decimal(top[use_case.pk]["actual_this_month"]) == Decimal("0.45")
