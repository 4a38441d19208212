"""The plan page, /portfolio/plan/: who sees it, scenarios, errors, saving."""

from __future__ import annotations

import pytest

from apps.portfolio.models import SavedPlan
from apps.usecases.models import UseCase
from tests.factories import UseCaseFactory

URL = "/portfolio/plan/"


@pytest.fixture
def portfolio(alice, carol):  # type: ignore[no-untyped-def]
    """Two Claims use-cases below break-even alone (5,000 a day each, with
    fine-tuning data) and a restricted Health one that must self-host."""
    common = {
        "status": UseCase.Status.APPROVED,
        "requests_per_day": 5_000,
        "capability_need": "advanced",
        "fine_tuning_data": True,
        "workloads": [("summarisation", 100)],
    }
    return [
        UseCaseFactory(owner=alice, title="Claims triage", **common),
        UseCaseFactory(owner=alice, title="Claims letters", **common),
        UseCaseFactory(
            owner=carol,
            title="Clinical notes",
            status=UseCase.Status.LIVE,
            data_classification="restricted",
            capability_need="advanced",
            workloads=[("summarisation", 100)],
        ),
    ]


@pytest.mark.django_db
class TestPlanPage:
    @pytest.mark.parametrize("role", ["board", "platform", "procurement", "auditor"])
    def test_readers_of_everything_open_the_plan(self, client, cast, role, portfolio):
        client.force_login(cast[role])
        response = client.get(URL)
        assert response.status_code == 200
        body = response.content.decode()
        assert "Claims triage" in body and "Clinical notes" in body
        assert 'id="chart-plan-cost"' in body

    @pytest.mark.parametrize("role", ["requester", "other_requester"])
    def test_requesters_may_not(self, client, cast, role, portfolio):
        client.force_login(cast[role])
        assert client.get(URL).status_code == 403

    def test_volume_times_three_for_claims_pools_the_claims_use_cases(
        self, client, bob, portfolio
    ):
        client.force_login(bob)
        before = client.get(URL).content.decode()
        after = client.get(
            URL, {"team": "Claims", "factor": "3"}, HTTP_HX_REQUEST="true"
        ).content.decode()

        assert 'data-option="pooled"' not in before
        assert "<html" not in after  # the results fragment only
        assert 'data-option="pooled"' in after
        assert "Volume x 3 for Claims." in after
        assert 'id="changes-table"' in after

    def test_a_scenario_out_of_range_shows_the_field_error(
        self, client, bob, portfolio
    ):
        client.force_login(bob)
        body = client.get(URL, {"factor": "500", "gpu": "-1"}).content.decode()
        assert 'id="scenario-errors"' in body
        assert "Ensure this value is less than or equal to 100" in body

    def test_an_empty_portfolio_has_a_clear_empty_state(self, client, bob):
        client.force_login(bob)
        body = client.get(URL).content.decode()
        assert 'id="plan-empty"' in body

    def test_the_board_saves_the_plan_on_screen(self, client, bob, portfolio):
        client.force_login(bob)
        response = client.post(
            "/portfolio/plan/save/",
            {"team": "Claims", "factor": "3", "readiness": "established", "name": "x3"},
        )
        assert response.status_code == 302
        saved = SavedPlan.objects.get()
        assert saved.name == "x3" and saved.created_by == bob
        assert saved.scenario["volume_changes"] == [{"team": "Claims", "factor": 3.0}]

    @pytest.mark.parametrize("role", ["platform", "procurement", "auditor"])
    def test_only_the_board_saves(self, client, cast, role, portfolio):
        client.force_login(cast[role])
        response = client.post("/portfolio/plan/save/", {"name": "mine"})
        assert response.status_code == 403
        assert SavedPlan.objects.count() == 0


@pytest.mark.django_db
class TestUseCaseNote:
    def test_the_use_case_page_says_when_a_pool_changes_its_answer(
        self, client, alice, portfolio
    ):
        """At 20,000 a day each (not 5,000) each Claims use-case would run its own
        Llama 3.1 70B replicas; with the restricted Health one, all three share
        one deployment."""
        for use_case in portfolio[:2]:
            use_case.requests_per_day = 20_000
            use_case.save()
        client.force_login(alice)

        body = client.get(f"/portfolio/plan/use-case/{portfolio[0].pk}/").content
        note = body.decode()

        assert "on its own, open-source self-hosted ($13,386 a month)" in note
        assert "pooled with 2 other use-cases on Llama 3.1 70B" in note
        assert "See the portfolio plan" not in note  # a requester cannot open it

    def test_no_note_without_a_pool(self, client, bob, portfolio):
        client.force_login(bob)
        body = client.get(f"/portfolio/plan/use-case/{portfolio[0].pk}/").content
        assert b"No shared deployment changes" in body

    def test_a_use_case_the_user_may_not_read_is_404(self, client, alice, portfolio):
        client.force_login(alice)
        assert (
            client.get(f"/portfolio/plan/use-case/{portfolio[2].pk}/").status_code
            == 404
        )
