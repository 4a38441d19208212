"""POST /api/v1/portfolio/plan/ and the saved plans of /api/v1/portfolio/plans/."""

from __future__ import annotations

from typing import Any

import pytest

from apps.endpoints.models import DailyUsage
from apps.framework.models import Assessment
from apps.portfolio.models import SavedPlan
from apps.portfolio.queries import utc_today
from apps.usecases.models import UseCase
from tests.factories import ServingEndpointFactory, TeamFactory, UseCaseFactory

PLAN = "/api/v1/portfolio/plan/"
PLANS = "/api/v1/portfolio/plans/"


@pytest.fixture
def portfolio(alice, carol):  # type: ignore[no-untyped-def]
    """Two approved Claims use-cases, one live Health one, and a Claims draft."""
    return {
        "triage": UseCaseFactory(
            owner=alice, title="Claims triage", status=UseCase.Status.APPROVED
        ),
        "letters": UseCaseFactory(
            owner=alice,
            title="Claims letters",
            status=UseCase.Status.APPROVED,
            requests_per_day=5_000,
        ),
        "notes": UseCaseFactory(
            owner=carol,
            title="Clinical notes",
            status=UseCase.Status.LIVE,
            data_classification="restricted",
        ),
        "draft": UseCaseFactory(owner=alice, title="Idea", status=UseCase.Status.DRAFT),
    }


def _requests(body: dict[str, Any], title: str) -> float:
    row = next(u for u in body["plan"]["use_cases"] if u["name"] == title)
    return sum(w["requests_per_day"] for w in row["workloads"])


@pytest.mark.django_db
class TestPlan:
    def test_the_board_plans_the_portfolio_and_nothing_is_saved(
        self, api_client, bob, portfolio
    ):
        assessments = Assessment.objects.count()
        api_client.force_authenticate(bob)

        response = api_client.post(PLAN, {}, format="json")

        assert response.status_code == 200, response.content
        body = response.json()
        names = sorted(u["name"] for u in body["plan"]["use_cases"])
        assert names == ["Claims letters", "Claims triage", "Clinical notes"]
        assert body["plan"]["unplaced"] == []
        assert body["changes"] == []
        assert body["scenario_description"] == "as things are"
        assert body["chart"]["volume_factor"][2] == 1
        assert SavedPlan.objects.count() == 0
        assert Assessment.objects.count() == assessments

    def test_restricted_data_is_planned_in_house_only(
        self, api_client, dave, portfolio
    ):
        api_client.force_authenticate(dave)
        body = api_client.post(PLAN, {}, format="json").json()
        notes = next(
            u for u in body["plan"]["use_cases"] if u["name"] == "Clinical notes"
        )
        assert {w["hosted_by"] for w in notes["workloads"]} == {"in-house"}

    def test_volume_times_three_for_claims_changes_only_claims(
        self, api_client, paul, portfolio
    ):
        api_client.force_authenticate(paul)
        body = api_client.post(
            PLAN,
            {"volume_changes": [{"team": "Claims", "factor": 3}]},
            format="json",
        ).json()

        # Declared 20,000 and 5,000 a day; Health's 20,000 stays.
        assert _requests(body, "Claims triage") == 60_000
        assert _requests(body, "Claims letters") == 15_000
        assert _requests(body, "Clinical notes") == 20_000
        assert body["scenario_description"] == "volume x 3 for Claims"
        assert body["baseline"]["monthly_cost"] < body["plan"]["monthly_cost"]

    def test_live_usage_replaces_declared_volumes(self, api_client, erin, portfolio):
        endpoint = ServingEndpointFactory(kind="openai", location="external")
        # 90,000 requests over the last 30 days: 3,000 a day, 800 in and 200 out.
        DailyUsage.objects.create(
            date=utc_today(),
            endpoint=endpoint,
            use_case=portfolio["triage"],
            requests=90_000,
            input_tokens=72_000_000,
            output_tokens=18_000_000,
        )
        api_client.force_authenticate(erin)
        body = api_client.post(PLAN, {"live_usage": True}, format="json").json()

        assert _requests(body, "Claims triage") == 3_000
        assert _requests(body, "Claims letters") == 5_000  # no usage: declared
        assert body["live_usage"] is True

    def test_a_withdrawn_model_lists_the_use_cases_that_move(
        self, api_client, bob, portfolio
    ):
        api_client.force_authenticate(bob)
        before = api_client.post(PLAN, {}, format="json").json()
        triage = next(
            u for u in before["plan"]["use_cases"] if u["name"] == "Claims triage"
        )
        used = triage["workloads"][0]["model"]

        after = api_client.post(PLAN, {"retired_models": [used]}, format="json").json()

        moved = {c["name"]: c for c in after["changes"]}
        assert "Claims triage" in moved
        assert moved["Claims triage"]["cost_of_moving"] == pytest.approx(
            moved["Claims triage"]["after_monthly_cost"]
            - moved["Claims triage"]["before_monthly_cost"],
            abs=0.02,
        )

    def test_bad_scenarios_get_400_with_field_errors(self, api_client, bob, portfolio):
        api_client.force_authenticate(bob)
        response = api_client.post(
            PLAN,
            {
                "volume_changes": [{"team": "Nowhere", "factor": 500}],
                "price_changes": [{"vendor": "Acme AI", "percent": 30}],
                "retired_models": ["gpt-99"],
                "gpu_usd_per_hour": 0,
                "mlops_readiness": "heroic",
                "live_usage": "yes",
            },
            format="json",
        )
        assert response.status_code == 400
        errors = response.json()
        assert "live_usage" in errors
        response = api_client.post(
            PLAN,
            {
                "volume_changes": [{"team": "Nowhere", "factor": 500}],
                "price_changes": [{"vendor": "Acme AI", "percent": 30}],
                "retired_models": ["gpt-99"],
                "gpu_usd_per_hour": 0,
                "mlops_readiness": "heroic",
            },
            format="json",
        )
        assert response.status_code == 400
        assert set(response.json()) >= {
            "volume_changes[0].team",
            "volume_changes[0].factor",
            "price_changes[0].vendor",
            "retired_models",
            "gpu_usd_per_hour",
            "mlops_readiness",
        }
        assert SavedPlan.objects.count() == 0

    def test_an_empty_portfolio_gives_an_empty_plan(self, api_client, bob):
        api_client.force_authenticate(bob)
        response = api_client.post(PLAN, {}, format="json")
        assert response.status_code == 200
        body = response.json()
        assert body["plan"]["use_cases"] == [] and body["plan"]["pools"] == []
        assert body["plan"]["summary"] == "No use-cases to plan."

    def test_a_requester_may_not_plan(self, api_client, alice, portfolio):
        api_client.force_authenticate(alice)
        assert api_client.post(PLAN, {}, format="json").status_code == 403


@pytest.mark.django_db
class TestSavedPlans:
    def test_the_board_saves_a_plan_as_evidence(self, api_client, bob, portfolio):
        TeamFactory(name="Risk", slug="risk")
        api_client.force_authenticate(bob)
        response = api_client.post(
            PLANS,
            {
                "name": "Claims triples",
                "note": "For the March board.",
                "volume_changes": [{"team": "Claims", "factor": 3}],
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        saved = SavedPlan.objects.get()
        assert saved.name == "Claims triples" and saved.created_by == bob
        assert saved.scenario["volume_changes"] == [{"team": "Claims", "factor": 3}]
        assert saved.use_cases == 3
        listed = api_client.get(PLANS).json()
        assert [p["name"] for p in listed["results"]] == ["Claims triples"]

    @pytest.mark.parametrize("role", ["platform", "procurement", "auditor"])
    def test_only_the_board_saves_and_a_refusal_saves_nothing(
        self, api_client, cast, role, portfolio
    ):
        api_client.force_authenticate(cast[role])
        response = api_client.post(PLANS, {"name": "Mine"}, format="json")
        assert response.status_code == 403
        assert SavedPlan.objects.count() == 0
        assert api_client.get(PLANS).status_code == 200

    def test_a_plan_without_a_name_is_refused(self, api_client, bob, portfolio):
        api_client.force_authenticate(bob)
        response = api_client.post(PLANS, {"name": " "}, format="json")
        assert response.status_code == 400 and "name" in response.json()
        assert SavedPlan.objects.count() == 0

    def test_a_saved_plan_is_never_changed(self, bob):
        saved = SavedPlan.objects.create(
            name="x", monthly_cost=1, standalone_monthly_cost=1, saving=0
        )
        saved.name = "y"
        with pytest.raises(ValueError, match="never changed"):
            saved.save()
