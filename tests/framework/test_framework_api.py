"""POST /api/v1/framework/evaluate/ and GET /api/v1/use-cases/{id}/assessments/."""

from __future__ import annotations

import pytest

from apps.accounts.models import ApiToken
from apps.framework.models import Assessment, Trigger
from apps.framework.services import assess_use_case
from apps.usecases.models import UseCase
from apps.usecases.services import submit_use_case
from tests.factories import UseCaseFactory

EVALUATE = "/api/v1/framework/evaluate/"


def inputs(**overrides):  # type: ignore[no-untyped-def]
    data = {
        "data_classification": "internal",
        "special_categories": ["personal"],
        "must_stay_in_infrastructure": False,
        "requests_per_day": 60_000,
        "avg_input_tokens": 1_500,
        "avg_output_tokens": 500,
        "workloads": [
            {"task_type": "classification", "share": 85},
            {"task_type": "reasoning", "share": 15},
        ],
        "capability_need": "standard",
        "context_tokens": 8_000,
        "mlops_readiness": "established",
        "horizon": "core",
        "fine_tuning_data": False,
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
class TestEvaluate:
    def test_it_returns_the_design_shape_without_saving(
        self, api_client, catalogue, alice
    ):
        api_client.force_authenticate(alice)
        response = api_client.post(EVALUATE, inputs(), format="json")
        assert response.status_code == 200
        body = response.json()
        assert body["outcome"] in {
            "open_source_self_hosted",
            "open_source_managed",
            "proprietary_api",
            "hybrid",
        }
        assert [s["step"] for s in body["steps"]] == [
            "data_governance",
            "volume",
            "task_complexity",
            "operational_readiness",
            "strategic_timeline",
        ]
        assert all(s["verdict"] and s["rationale"] for s in body["steps"])
        assert body["costs"]["options"]
        assert "break_even_requests_per_day" in body
        assert isinstance(body["warnings"], list)
        assert [w["task_type"] for w in body["workloads"]] == [
            "classification",
            "reasoning",
        ]
        assert body["price_snapshot"]["id"] == catalogue.key
        assert not Assessment.objects.exists()

    def test_data_that_must_stay_is_self_hosted(self, api_client, catalogue, alice):
        api_client.force_authenticate(alice)
        body = api_client.post(
            EVALUATE, inputs(must_stay_in_infrastructure=True), format="json"
        ).json()
        assert body["outcome"] == "open_source_self_hosted"

    def test_it_works_before_any_catalogue_is_loaded(self, api_client, alice):
        api_client.force_authenticate(alice)
        response = api_client.post(EVALUATE, inputs(), format="json")
        assert response.status_code == 200
        assert response.json()["costs"]["options"]

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"requests_per_day": -5}, "requests_per_day"),
            ({"workloads": [{"task_type": "juggling", "share": 100}]}, "workloads"),
            (
                {
                    "workloads": [
                        {"task_type": "classification", "share": 60},
                        {"task_type": "reasoning", "share": 30},
                    ]
                },
                "workloads",
            ),
            ({"horizon": "forever"}, "horizon"),
            ({"data_classification": "secret"}, "data_classification"),
            ({"special_categories": ["astrology"]}, "special_categories"),
            ({"mlops_readiness": "some"}, "mlops_readiness"),
            ({"capability_need": "godlike"}, "capability_need"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field(
        self, api_client, catalogue, alice, change, field
    ):
        api_client.force_authenticate(alice)
        response = api_client.post(EVALUATE, inputs(**change), format="json")
        assert response.status_code == 400
        errors = response.json()
        assert errors["code"] == "invalid"
        assert errors["detail"].startswith(f"{field}:")
        assert [k for k in errors if k not in {"detail", "code"}] == [field]

    def test_a_missing_field_is_named(self, api_client, catalogue, alice):
        api_client.force_authenticate(alice)
        data = inputs()
        del data["horizon"]
        response = api_client.post(EVALUATE, data, format="json")
        assert response.status_code == 400
        assert response.json()["horizon"] == ["This field is required."]

    def test_it_needs_authentication(self, api_client, catalogue):
        response = api_client.post(EVALUATE, inputs(), format="json")
        assert response.status_code in (401, 403)

    def test_a_read_only_token_may_evaluate(self, api_client, catalogue, paul):
        _token, key = ApiToken.issue(user=paul, name="procurement tool")
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        assert api_client.post(EVALUATE, inputs(), format="json").status_code == 200


@pytest.mark.django_db
class TestUseCaseAssessments:
    def url(self, use_case):  # type: ignore[no-untyped-def]
        return f"/api/v1/use-cases/{use_case.pk}/assessments/"

    def test_it_lists_a_use_cases_assessments_newest_first(
        self, api_client, catalogue, alice
    ):
        use_case = UseCaseFactory(owner=alice)
        submit_use_case(use_case=use_case, by=alice)
        UseCase.objects.filter(pk=use_case.pk).update(requests_per_day=800_000)
        assess_use_case(use_case=use_case, trigger=Trigger.INPUTS_CHANGED)
        api_client.force_authenticate(alice)
        body = api_client.get(self.url(use_case)).json()
        assert body["count"] == 2
        first = body["results"][0]
        assert first["trigger"] == "inputs_changed"
        assert first["inputs"]["requests_per_day"] == 800_000
        assert first["policy_version"] == 1
        assert first["result"]["outcome"] == first["outcome"]
        detail = api_client.get(f"{self.url(use_case)}{first['id']}/")
        assert detail.status_code == 200 and detail.json()["id"] == first["id"]

    def test_it_is_not_found_when_the_use_case_is_not_visible(
        self, api_client, catalogue, alice, carol
    ):
        secret = UseCaseFactory(owner=carol, data_classification="restricted")
        submit_use_case(use_case=secret, by=carol)
        api_client.force_authenticate(alice)
        assert api_client.get(self.url(secret)).status_code == 404
        pk = secret.assessments.get().pk
        assert api_client.get(f"{self.url(secret)}{pk}/").status_code == 404

    def test_the_board_sees_every_use_cases_assessments(
        self, api_client, catalogue, carol, bob
    ):
        secret = UseCaseFactory(owner=carol, data_classification="restricted")
        submit_use_case(use_case=secret, by=carol)
        api_client.force_authenticate(bob)
        assert api_client.get(self.url(secret)).json()["count"] == 1

    def test_assessments_cannot_be_written_through_the_api(
        self, api_client, catalogue, alice
    ):
        use_case = UseCaseFactory(owner=alice)
        api_client.force_authenticate(alice)
        assert api_client.post(self.url(use_case), {}, format="json").status_code == 405

    @pytest.mark.parametrize("n", [5, 50])
    def test_the_list_takes_constant_queries(
        self, api_client, catalogue, alice, n, django_assert_max_num_queries
    ):
        use_case = UseCaseFactory(owner=alice)
        submit_use_case(use_case=use_case, by=alice)
        for i in range(n - 1):
            UseCase.objects.filter(pk=use_case.pk).update(requests_per_day=30_000 + i)
            assess_use_case(use_case=use_case, trigger=Trigger.INPUTS_CHANGED)
        api_client.force_authenticate(alice)
        with django_assert_max_num_queries(8):
            body = api_client.get(self.url(use_case), {"page_size": 100}).json()
        assert body["count"] == n
