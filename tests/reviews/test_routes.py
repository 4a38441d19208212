"""Routes in decisions: the board's editor on the review page, the API's decision
resource, amendments on the timeline, and the prefill from the assessment."""

import pytest
from django.urls import reverse

from apps.gateway.routes import current_routes
from apps.reviews.models import Decision
from apps.usecases.models import AuditEvent, UseCase
from tests.factories import UseCaseFactory

from .conftest import assessed_per_workload, submitted

S = UseCase.Status


def decision_url(use_case):  # type: ignore[no-untyped-def]
    return f"/api/v1/use-cases/{use_case.pk}/decision/"


def target(endpoint, model, weight=1):  # type: ignore[no-untyped-def]
    return {"endpoint": endpoint.pk, "model": model, "weight": weight}


def form_rows(workload, kind, rows):  # type: ignore[no-untyped-def]
    """The editor's POST fields for one list of rows (endpoint, model, weight)."""
    data = {f"routes-{workload}-{kind}-rows": str(len(rows))}
    for j, (endpoint, model, weight) in enumerate(rows):
        data[f"routes-{workload}-{kind}-{j}-endpoint"] = str(endpoint.pk)
        data[f"routes-{workload}-{kind}-{j}-model"] = model
        data[f"routes-{workload}-{kind}-{j}-weight"] = str(weight)
    return data


@pytest.fixture
def must_stay(alice):  # type: ignore[no-untyped-def]
    return submitted(alice, title="Patient notes", must_stay_in_infrastructure=True)


@pytest.mark.django_db
class TestDecisionApi:
    def test_it_refuses_an_external_target_for_must_stay_data_and_records_nothing(
        self, api_client, bob, must_stay, llama, openai
    ):
        api_client.force_authenticate(bob)
        response = api_client.post(
            decision_url(must_stay),
            {
                "outcome": "approved",
                "pattern": "open_source_self_hosted",
                "routes": [
                    {
                        "workload": "classification",
                        "targets": [target(llama, "llama-3.1-8b")],
                        "fallback": [target(openai, "gpt-4o")],
                    }
                ],
            },
        )
        assert response.status_code == 400
        (error,) = response.json()["routes"]
        assert error.startswith(
            "routes[0].fallback[0].endpoint: “OpenAI” is external; this use-case's "
            "data must stay in-house"
        )
        must_stay.refresh_from_db()
        assert must_stay.status == S.SUBMITTED
        assert not Decision.objects.exists()
        assert not must_stay.transitions.filter(to_status=S.IN_REVIEW).exists()

    def test_valid_routes_are_recorded_with_the_decision_and_returned(
        self, api_client, bob, alice, llama, openai
    ):
        use_case = submitted(
            alice, workloads=[("classification", 70), ("reasoning", 30)]
        )
        routes = [
            {
                "workload": "classification",
                "targets": [
                    target(llama, "llama-3.1-8b", 3),
                    target(openai, "gpt-4o-mini", 1),
                ],
                "fallback": [],
            },
            {
                "workload": "reasoning",
                "targets": [target(openai, "gpt-4o")],
                "fallback": [target(llama, "llama-3.1-70b")],
            },
        ]
        api_client.force_authenticate(bob)
        response = api_client.post(
            decision_url(use_case),
            {"outcome": "approved", "pattern": "hybrid", "routes": routes},
        )
        assert response.status_code == 201, response.json()
        assert response.json()["routes"] == routes
        assert response.json()["amendment"] is False
        assert Decision.objects.get().routes == routes
        assert api_client.get(decision_url(use_case)).json()["routes"] == routes
        use_case.refresh_from_db()
        assert use_case.status == S.APPROVED
        assert current_routes(use_case) == routes

    def test_a_rejection_carries_no_routes(self, api_client, bob, waiting, llama):
        api_client.force_authenticate(bob)
        response = api_client.post(
            decision_url(waiting),
            {
                "outcome": "rejected",
                "comment": "Out of scope.",
                "routes": [
                    {"workload": "classification", "targets": [target(llama, "x")]}
                ],
            },
        )
        assert response.status_code == 400
        assert response.json()["routes"] == ["routes: only an approval carries routes."]
        assert not Decision.objects.exists()

    def test_approving_again_amends_the_routes_without_a_move(
        self, api_client, bob, waiting, llama, openai
    ):
        api_client.force_authenticate(bob)
        first = [
            {
                "workload": "classification",
                "targets": [target(llama, "llama-3.1-8b")],
                "fallback": [],
            }
        ]
        api_client.post(
            decision_url(waiting),
            {"outcome": "approved", "pattern": "hybrid", "routes": first},
        )
        moves = waiting.transitions.count()
        second = [
            {
                "workload": "classification",
                "targets": [target(openai, "gpt-4o-mini")],
                "fallback": [target(llama, "llama-3.1-8b")],
            }
        ]
        response = api_client.post(
            decision_url(waiting),
            {"outcome": "approved", "routes": second, "comment": "Cheaper."},
        )
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["amendment"] is True and body["transition"] is None
        assert body["pattern"] == "hybrid" and body["routes"] == second
        assert body["comment"] == "Routes amended: Cheaper."
        waiting.refresh_from_db()
        assert waiting.status == S.APPROVED
        assert waiting.transitions.count() == moves
        assert current_routes(waiting) == second
        assert api_client.get(decision_url(waiting)).json()["id"] == body["id"]
        timeline = api_client.get(f"/api/v1/use-cases/{waiting.pk}/timeline/").json()[
            "results"
        ]
        amended = [e for e in timeline if e["summary"] == "Board amended the routes."]
        assert len(amended) == 1
        assert amended[0]["details"][0] == (
            "Route: classification → OpenAI (external) · gpt-4o-mini; "
            "fallback Llama box (in-house) · llama-3.1-8b"
        )

    def test_an_amendment_needs_routes_and_keeps_the_pattern(
        self, api_client, bob, waiting, llama
    ):
        api_client.force_authenticate(bob)
        api_client.post(
            decision_url(waiting), {"outcome": "approved", "pattern": "hybrid"}
        )
        no_routes = api_client.post(decision_url(waiting), {"outcome": "approved"})
        assert no_routes.status_code == 400 and "routes" in no_routes.json()
        other_pattern = api_client.post(
            decision_url(waiting),
            {
                "outcome": "approved",
                "pattern": "proprietary_api",
                "routes": [
                    {
                        "workload": "classification",
                        "targets": [target(llama, "llama-3.1-8b")],
                    }
                ],
            },
        )
        # Approved already: changing the pattern conflicts with that state.
        assert other_pattern.status_code == 409
        assert "pattern" in other_pattern.json()["detail"]
        assert Decision.objects.count() == 1

    def test_an_amendment_to_must_stay_data_refuses_external_targets(
        self, api_client, bob, must_stay, llama, openai
    ):
        api_client.force_authenticate(bob)
        first = [
            {"workload": "classification", "targets": [target(llama, "llama-3.1-8b")]}
        ]
        assert (
            api_client.post(
                decision_url(must_stay),
                {
                    "outcome": "approved",
                    "pattern": "open_source_self_hosted",
                    "routes": first,
                },
            ).status_code
            == 201
        )
        response = api_client.post(
            decision_url(must_stay),
            {
                "outcome": "approved",
                "routes": [
                    {
                        "workload": "classification",
                        "targets": [target(openai, "gpt-4o")],
                    }
                ],
            },
        )
        assert response.status_code == 400
        assert (
            "is external; this use-case's data must stay in-house"
            in (response.json()["routes"][0])
        )
        assert Decision.objects.count() == 1
        must_stay.refresh_from_db()
        assert current_routes(must_stay)[0]["targets"][0]["endpoint"] == llama.pk

    @pytest.mark.parametrize("role", ["requester", "platform", "auditor"])
    def test_only_the_board_amends(self, api_client, bob, cast, waiting, llama, role):
        api_client.force_authenticate(bob)
        api_client.post(
            decision_url(waiting), {"outcome": "approved", "pattern": "hybrid"}
        )
        api_client.force_authenticate(cast[role])
        response = api_client.post(
            decision_url(waiting),
            {
                "outcome": "approved",
                "routes": [
                    {
                        "workload": "classification",
                        "targets": [target(llama, "llama-3.1-8b")],
                    }
                ],
            },
        )
        assert response.status_code == 403
        assert Decision.objects.count() == 1

    def test_a_rejected_use_case_cannot_be_given_routes(
        self, api_client, bob, waiting, llama
    ):
        api_client.force_authenticate(bob)
        api_client.post(
            decision_url(waiting), {"outcome": "rejected", "comment": "No."}
        )
        response = api_client.post(
            decision_url(waiting),
            {
                "outcome": "approved",
                "pattern": "hybrid",
                "routes": [
                    {
                        "workload": "classification",
                        "targets": [target(llama, "llama-3.1-8b")],
                    }
                ],
            },
        )
        assert response.status_code == 409
        assert Decision.objects.count() == 1


@pytest.mark.django_db
class TestReviewPage:
    def test_it_refuses_an_external_target_for_must_stay_data_beside_the_row(
        self, client, bob, must_stay, openai
    ):
        client.force_login(bob)
        response = client.post(
            reverse("reviews:decide", args=[must_stay.pk]),
            {
                "outcome": "approved",
                "pattern": "open_source_self_hosted",
                "routes-give": "on",
                **form_rows("classification", "targets", [(openai, "gpt-4o", 1)]),
            },
        )
        assert response.status_code == 400
        page = response.content.decode()
        assert (
            "“OpenAI” is external; this use-case&#x27;s data must stay in-house" in page
        )
        assert (
            "only in-house endpoints may serve it, in targets and fallback alike"
            in page
        )
        must_stay.refresh_from_db()
        assert must_stay.status == S.SUBMITTED
        assert not Decision.objects.exists()

    def test_the_board_approves_with_routes_from_the_form(
        self, client, bob, waiting, llama, openai
    ):
        client.force_login(bob)
        response = client.post(
            reverse("reviews:decide", args=[waiting.pk]),
            {
                "outcome": "approved",
                "pattern": "hybrid",
                "routes-give": "on",
                **form_rows(
                    "classification",
                    "targets",
                    [(llama, "llama-3.1-8b", 2), (openai, "gpt-4o-mini", 1)],
                ),
                **form_rows(
                    "classification", "fallback", [(llama, "llama-3.1-70b", 1)]
                ),
            },
        )
        assert response.status_code == 302
        assert Decision.objects.get().routes == [
            {
                "workload": "classification",
                "targets": [
                    target(llama, "llama-3.1-8b", 2),
                    target(openai, "gpt-4o-mini"),
                ],
                "fallback": [target(llama, "llama-3.1-70b")],
            }
        ]
        page = client.get(reverse("reviews:review", args=[waiting.pk])).content.decode()
        assert 'id="current-routes"' in page
        assert "Llama box (in-house) · llama-3.1-8b, weight 2" in page

    def test_routes_are_optional_on_approval(self, client, bob, waiting, llama):
        client.force_login(bob)
        page = client.get(reverse("reviews:review", args=[waiting.pk])).content.decode()
        assert "a use-case approved without routes gets no gateway traffic" in page
        response = client.post(
            reverse("reviews:decide", args=[waiting.pk]),
            {
                "outcome": "approved",
                "pattern": "hybrid",
                **form_rows("classification", "targets", [(llama, "llama-3.1-8b", 1)]),
            },
        )
        assert response.status_code == 302
        assert Decision.objects.get().routes == []
        waiting.refresh_from_db()
        assert waiting.status == S.APPROVED and current_routes(waiting) == []

    def test_add_a_row_shows_one_more_row_and_records_nothing(
        self, client, bob, waiting, llama
    ):
        client.force_login(bob)
        response = client.post(
            reverse("reviews:decide", args=[waiting.pk]),
            {
                "outcome": "approved",
                "routes-give": "on",
                "add_row": "classification-targets",
                **form_rows("classification", "targets", [(llama, "llama-3.1-8b", 1)]),
            },
        )
        assert response.status_code == 200
        page = response.content.decode()
        assert 'name="routes-classification-targets-1-endpoint"' in page
        assert 'name="routes-classification-targets-2-endpoint"' not in page
        assert "This field is required" not in page
        assert not Decision.objects.exists()

    def test_the_form_starts_from_the_assessments_routing_rule(
        self, client, bob, alice, llama, openai
    ):
        use_case = submitted(
            alice, workloads=[("classification", 70), ("reasoning", 30)]
        )
        assessed_per_workload(
            use_case,
            {
                "classification": "open_source_self_hosted",
                "reasoning": "proprietary_api",
            },
        )
        client.force_login(bob)
        page = client.get(
            reverse("reviews:review", args=[use_case.pk])
        ).content.decode()
        classification = page.split('name="routes-classification-targets-0-endpoint"')[
            1
        ]
        reasoning = page.split('name="routes-reasoning-targets-0-endpoint"')[1]
        assert (
            f'<option value="{llama.pk}" selected>'
            in classification.split("</select>")[0]
        )
        assert (
            f'<option value="{openai.pk}" selected>' in reasoning.split("</select>")[0]
        )
        assert 'id="id_routes-give" checked>' in page

    def test_the_board_amends_routes_and_the_timeline_shows_it(
        self, client, bob, alice, waiting, llama, openai
    ):
        client.force_login(bob)
        client.post(
            reverse("reviews:decide", args=[waiting.pk]),
            {
                "outcome": "approved",
                "pattern": "hybrid",
                "routes-give": "on",
                **form_rows("classification", "targets", [(llama, "llama-3.1-8b", 1)]),
            },
        )
        response = client.post(
            reverse("reviews:routes", args=[waiting.pk]),
            {
                **form_rows("classification", "targets", [(openai, "gpt-4o", 1)]),
                "routes-classification-fallback-rows": "0",
            },
        )
        assert response.status_code == 302
        latest = Decision.objects.last()
        assert latest.is_amendment and latest.comment == "Routes amended"
        waiting.refresh_from_db()
        assert current_routes(waiting) == [
            {
                "workload": "classification",
                "targets": [target(openai, "gpt-4o")],
                "fallback": [],
            }
        ]
        assert AuditEvent.objects.filter(kind="reviews.routes_amended").count() == 1
        client.force_login(alice)
        trail = client.get(
            reverse("reviews:timeline", args=[waiting.pk])
        ).content.decode()
        assert "Board amended the routes." in trail
        assert "classification → OpenAI (external) · gpt-4o" in trail
        panel = client.get(
            reverse("reviews:routes", args=[waiting.pk])
        ).content.decode()
        assert "OpenAI (external) · gpt-4o" in panel and 'id="routes-form"' not in panel

    def test_an_amendment_page_refusal_records_nothing(
        self, client, bob, must_stay, llama, openai
    ):
        client.force_login(bob)
        client.post(
            reverse("reviews:decide", args=[must_stay.pk]),
            {
                "outcome": "approved",
                "pattern": "open_source_self_hosted",
                "routes-give": "on",
                **form_rows("classification", "targets", [(llama, "llama-3.1-8b", 1)]),
            },
        )
        assert Decision.objects.count() == 1
        response = client.post(
            reverse("reviews:routes", args=[must_stay.pk]),
            {
                **form_rows("classification", "targets", [(llama, "llama-3.1-8b", 1)]),
                **form_rows("classification", "fallback", [(openai, "gpt-4o", 1)]),
            },
        )
        assert response.status_code == 400
        assert "is external; this use-case&#x27;s data must stay in-house" in (
            response.content.decode()
        )
        assert Decision.objects.count() == 1

    def test_only_the_board_amends_on_the_page(
        self, client, alice, bob, waiting, llama
    ):
        client.force_login(bob)
        client.post(
            reverse("reviews:decide", args=[waiting.pk]),
            {"outcome": "approved", "pattern": "hybrid"},
        )
        client.force_login(alice)
        response = client.post(
            reverse("reviews:routes", args=[waiting.pk]),
            form_rows("classification", "targets", [(llama, "llama-3.1-8b", 1)]),
        )
        assert response.status_code == 403
        assert Decision.objects.count() == 1

    def test_the_use_case_page_lists_the_routes_panel(self, client, alice):
        use_case = UseCaseFactory(owner=alice)
        client.force_login(alice)
        page = client.get(use_case.get_absolute_url()).content.decode()
        assert reverse("reviews:routes", args=[use_case.pk]) in page


@pytest.mark.django_db
def test_amending_with_the_routes_in_force_is_a_conflict_and_records_nothing(
    api_client, bob
) -> None:  # type: ignore[no-untyped-def]
    from apps.reviews.models import Decision
    from tests.factories import UseCaseFactory

    use_case = UseCaseFactory(status="approved")
    Decision.objects.create(
        use_case=use_case, outcome="approved", pattern="hybrid", decided_by=bob
    )
    api_client.force_authenticate(bob)
    before = Decision.objects.count()
    answer = api_client.post(
        f"/api/v1/use-cases/{use_case.pk}/decision/",
        {"outcome": "approved", "pattern": "hybrid", "routes": []},
        format="json",
    )
    assert answer.status_code == 409
    assert "in force already" in answer.json()["detail"]
    assert Decision.objects.count() == before
