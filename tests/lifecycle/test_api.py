"""`/api/v1/lifecycle/`: flags and comparisons, refusals that record nothing."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.endpoints.models import UsageSample
from apps.lifecycle.comparisons import execute_comparison
from apps.lifecycle.conformance import check_conformance
from apps.lifecycle.models import Comparison
from apps.playground.models import TestSetRun
from apps.reviews.models import Decision

from .conftest import approved
from .test_comparisons import CANDIDATE, INCUMBENT, endpoint, proposal, with_test_set

API = "/api/v1/lifecycle/"


@pytest.fixture
def setup(alice, bob, incumbent_server, regressing_server):  # type: ignore[no-untyped-def]
    current = endpoint(incumbent_server, "Llama 8B", INCUMBENT)
    worse = endpoint(regressing_server, "Llama 70B", CANDIDATE)
    use_case = approved(
        alice, bob, [(current, INCUMBENT, 1)], data_classification="confidential"
    )
    return use_case, current, worse


@pytest.mark.django_db
class TestComparisons:
    def test_the_board_proposes_and_starts_a_comparison(
        self, api_client, setup, bob, django_capture_on_commit_callbacks
    ):
        use_case, current, worse = setup
        with_test_set(use_case)
        api_client.force_authenticate(bob)
        created = api_client.post(
            API + "comparisons/",
            {
                "use_case": use_case.pk,
                "workload": "classification",
                "candidate": {"endpoint": worse.pk, "model": CANDIDATE},
            },
            format="json",
        )
        assert created.status_code == 201, created.content
        body = created.json()
        assert body["incumbent"] == {"endpoint": current.pk, "model": INCUMBENT}
        assert body["status"] == "proposed"
        with django_capture_on_commit_callbacks() as queued:
            started = api_client.post(
                API + f"comparisons/{body['id']}/start/", {}, format="json"
            )
        assert started.status_code == 202, started.content
        assert started.json()["status"] == "running"
        assert len(queued) == 1  # the comparison task, enqueued on commit
        execute_comparison(comparison_id=body["id"])
        shown = api_client.get(API + f"comparisons/{body['id']}/").json()
        assert shown["status"] == "blocked"
        assert shown["progress"] == 100
        assert shown["result"]["candidate"]["passed"] == 1

    def test_bad_proposals_get_field_errors_and_record_nothing(
        self, api_client, setup, bob
    ):
        use_case, current, worse = setup
        api_client.force_authenticate(bob)
        for body, field in [
            (
                {
                    "use_case": use_case.pk,
                    "workload": "reasoning",
                    "candidate": {"endpoint": worse.pk, "model": CANDIDATE},
                },
                "workload",
            ),
            (
                {
                    "use_case": use_case.pk,
                    "workload": "classification",
                    "candidate": {"endpoint": 999_999, "model": CANDIDATE},
                },
                "candidate",
            ),
            (
                {
                    "use_case": use_case.pk,
                    "workload": "classification",
                    "candidate": {"endpoint": current.pk, "model": INCUMBENT},
                },
                "candidate",
            ),
            (
                {
                    "use_case": 999_999,
                    "workload": "classification",
                    "candidate": {"endpoint": worse.pk, "model": CANDIDATE},
                },
                "use_case",
            ),
        ]:
            response = api_client.post(API + "comparisons/", body, format="json")
            assert response.status_code == 400, body
            assert field in response.json()
        assert not Comparison.objects.exists()

    def test_a_comparison_with_no_test_sets_is_refused_and_nothing_recorded(
        self, api_client, setup, bob
    ):
        use_case, current, worse = setup
        comparison = proposal(use_case, current, worse)
        api_client.force_authenticate(bob)
        response = api_client.post(
            API + f"comparisons/{comparison.pk}/start/", {}, format="json"
        )
        assert response.status_code == 400
        assert "test set" in str(response.json()["test_sets"])
        comparison.refresh_from_db()
        assert comparison.status == "proposed"
        assert not TestSetRun.objects.exists()

    def test_adopting_a_failed_candidate_is_refused_and_nothing_recorded(
        self, api_client, setup, bob, alice
    ):
        use_case, current, worse = setup
        with_test_set(use_case)
        comparison = proposal(use_case, current, worse)
        api_client.force_authenticate(bob)
        api_client.post(API + f"comparisons/{comparison.pk}/start/", {}, format="json")
        execute_comparison(comparison_id=comparison.pk)
        decisions = Decision.objects.count()
        api_client.force_authenticate(alice)
        assert (
            api_client.post(
                API + f"comparisons/{comparison.pk}/adopt/", {}, format="json"
            ).status_code
            == 403
        )
        api_client.force_authenticate(bob)
        response = api_client.post(
            API + f"comparisons/{comparison.pk}/adopt/", {}, format="json"
        )
        assert response.status_code == 400
        assert "passed the gate" in str(response.json()["status"])
        assert Decision.objects.count() == decisions
        comparison.refresh_from_db()
        assert comparison.status == "blocked"

    def test_another_teams_requester_sees_no_comparison_of_a_confidential_use_case(
        self, api_client, setup, carol, alice
    ):
        use_case, current, worse = setup
        proposal(use_case, current, worse)
        api_client.force_authenticate(carol)
        assert api_client.get(API + "comparisons/").json()["results"] == []
        api_client.force_authenticate(alice)
        assert len(api_client.get(API + "comparisons/").json()["results"]) == 1


@pytest.mark.django_db
def test_conformance_flags_are_listed_open_or_all(api_client, setup, paul):
    use_case, _current, worse = setup
    UsageSample.objects.create(
        endpoint=worse,
        series="x|model=other",
        bucket_start=timezone.now(),
        bucket_end=timezone.now(),
        model=CANDIDATE,
        use_case=use_case,
        requests=4,
    )
    check_conformance()
    api_client.force_authenticate(paul)
    [flag] = api_client.get(API + "conformance-flags/?open=true").json()["results"]
    assert flag["kind"] == "unapproved_route"
    assert flag["model"] == CANDIDATE
    assert flag["cleared_at"] is None
    assert api_client.get(API + "conformance-flags/?open=maybe").status_code == 400
