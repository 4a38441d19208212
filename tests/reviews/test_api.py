"""`/api/v1/use-cases/{id}/decision/`, `/timeline/` and decisions in the list."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.accounts.models import ApiToken
from apps.reviews import services
from apps.reviews.models import Decision
from apps.usecases.models import UseCase
from tests.factories import UseCaseFactory, UserFactory

from .conftest import submitted

S = UseCase.Status


def decision_url(use_case):  # type: ignore[no-untyped-def]
    return f"/api/v1/use-cases/{use_case.pk}/decision/"


def timeline_url(use_case):  # type: ignore[no-untyped-def]
    return f"/api/v1/use-cases/{use_case.pk}/timeline/"


@pytest.mark.django_db
class TestDecisionEndpoint:
    def test_board_posts_a_decision_and_the_use_case_moves(
        self, api_client, bob, waiting
    ):
        api_client.force_authenticate(bob)
        response = api_client.post(
            decision_url(waiting),
            {
                "outcome": "approved",
                "pattern": "proprietary_api",
                "chosen_models": ["GPT-4o mini"],
                "conditions": ["re-review at 50,000 requests a day"],
            },
        )
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["outcome"] == "approved" and body["decided_by"] == "bob"
        assert body["conditions"] == ["re-review at 50,000 requests a day"]
        waiting.refresh_from_db()
        assert waiting.status == S.APPROVED
        again = api_client.get(decision_url(waiting)).json()
        assert again["id"] == body["id"]

    @pytest.mark.parametrize(
        "role", ["requester", "platform", "procurement", "auditor"]
    )
    def test_only_board_can_post(self, api_client, cast, waiting, role):
        api_client.force_authenticate(cast[role])
        response = api_client.post(
            decision_url(waiting), {"outcome": "approved", "pattern": "hybrid"}
        )
        assert response.status_code == 403
        assert not Decision.objects.exists()

    def test_use_case_the_requester_cannot_see_is_404_for_read_and_write(
        self, api_client, alice, carol
    ):
        secret = submitted(carol, data_classification="restricted")
        api_client.force_authenticate(alice)
        assert api_client.get(decision_url(secret)).status_code == 404
        assert api_client.post(decision_url(secret), {}).status_code == 404
        assert api_client.get(timeline_url(secret)).status_code == 404

    def test_field_errors_are_400(self, api_client, bob, waiting, recommend):
        recommend(waiting, "open_source_self_hosted")
        api_client.force_authenticate(bob)
        bad_pattern = api_client.post(
            decision_url(waiting), {"outcome": "approved", "pattern": "cheapest"}
        )
        assert bad_pattern.status_code == 400 and "pattern" in bad_pattern.json()
        overrule = api_client.post(
            decision_url(waiting), {"outcome": "approved", "pattern": "proprietary_api"}
        )
        assert overrule.status_code == 400
        errors = overrule.json()
        assert "reason" in errors["overrule_reason"][0]
        assert "pattern" not in errors and "outcome" not in errors
        waiting.refresh_from_db()
        assert waiting.status == S.SUBMITTED

    def test_deciding_a_decided_use_case_is_a_conflict(self, api_client, bob, waiting):
        services.decide_use_case(
            use_case=waiting, by=bob, outcome="rejected", comment="No."
        )
        api_client.force_authenticate(bob)
        response = api_client.post(
            decision_url(waiting), {"outcome": "approved", "pattern": "hybrid"}
        )
        assert response.status_code == 409
        waiting.refresh_from_db()
        assert waiting.status == S.REJECTED
        assert Decision.objects.filter(use_case=waiting).count() == 1

    def test_read_only_token_cannot_decide(self, api_client, bob, waiting):
        _token, key = ApiToken.issue(user=bob, name="tool", scope="read")
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        response = api_client.post(
            decision_url(waiting), {"outcome": "approved", "pattern": "hybrid"}
        )
        assert response.status_code == 403
        assert api_client.get(timeline_url(waiting)).status_code == 200
        waiting.refresh_from_db()
        assert waiting.status == S.SUBMITTED
        assert not Decision.objects.filter(use_case=waiting).exists()

    def test_no_decision_yet_is_404_with_a_reason(self, api_client, bob, waiting):
        api_client.force_authenticate(bob)
        response = api_client.get(decision_url(waiting))
        assert response.status_code == 404
        assert response.json()["detail"] == "No decision yet."


@pytest.mark.django_db
class TestTimelineEndpoint:
    def test_timeline_lists_transitions_decision_and_comments_oldest_first(
        self, api_client, bob, waiting
    ):
        services.add_comment(use_case=waiting, by=bob, body="Looks fine")
        services.decide_use_case(
            use_case=waiting, by=bob, outcome="approved", pattern="hybrid"
        )
        api_client.force_authenticate(bob)
        body = api_client.get(timeline_url(waiting)).json()
        kinds = [e["kind"] for e in body["results"]]
        assert kinds[0] == "created"
        assert {"transition", "comment", "decision"} <= set(kinds)
        assert kinds.index("comment") < kinds.index("decision")
        assert body["count"] == len(kinds)
        times = [e["at"] for e in body["results"]]
        assert times == sorted(times)

    def test_requester_does_not_get_internal_notes(
        self, api_client, alice, bob, waiting
    ):
        services.add_comment(use_case=waiting, by=bob, body="Secret", internal=True)
        api_client.force_authenticate(alice)
        entries = api_client.get(timeline_url(waiting)).json()["results"]
        assert all("Secret" not in e["details"] for e in entries)
        api_client.force_authenticate(UserFactory(role="auditor"))
        entries = api_client.get(timeline_url(waiting)).json()["results"]
        assert any(e["details"] == ["Secret"] and e["internal"] for e in entries)


@pytest.mark.django_db
class TestUseCaseList:
    def test_decision_appears_in_the_use_case_list(self, api_client, bob, waiting):
        services.decide_use_case(
            use_case=waiting,
            by=bob,
            outcome="approved",
            pattern="open_source_managed",
            conditions=["fine-tune before launch"],
        )
        api_client.force_authenticate(bob)
        row = api_client.get("/api/v1/use-cases/").json()["results"][0]
        assert row["decision"]["pattern"] == "open_source_managed"
        assert row["decision"]["conditions"] == ["fine-tune before launch"]

    def test_undecided_use_case_has_no_decision(self, api_client, bob, waiting):
        api_client.force_authenticate(bob)
        row = api_client.get(f"/api/v1/use-cases/{waiting.pk}/").json()
        assert row["decision"] is None

    def test_list_with_decisions_runs_the_same_queries_for_5_and_50(
        self, api_client, bob
    ):
        def add(count):  # type: ignore[no-untyped-def]
            for _ in range(count):
                use_case = UseCaseFactory(status=S.REJECTED)
                for comment in ("No", "Still no"):
                    Decision.objects.create(
                        use_case=use_case,
                        outcome="rejected",
                        comment=comment,
                        decided_by=bob,
                    )

        api_client.force_authenticate(bob)
        api_client.get("/api/v1/use-cases/")  # warm the user's cached roles
        counts = []
        for count, total in ((5, 5), (45, 50)):
            add(count)
            with CaptureQueriesContext(connection) as queries:
                response = api_client.get("/api/v1/use-cases/", {"page_size": 100})
            results = response.json()["results"]
            assert len(results) == total
            latest = {
                d.use_case_id: d.pk for d in Decision.objects.filter(comment="Still no")
            }
            assert {r["id"]: r["decision"]["id"] for r in results} == latest
            counts.append(len(queries))
        assert counts[0] == counts[1]
