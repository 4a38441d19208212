"""The upgrade gate: test sets on incumbent and candidate over loopback servers."""

from __future__ import annotations

import time

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from apps.gateway.routes import current_routes
from apps.lifecycle.comparisons import (
    adopt_comparison,
    execute_comparison,
    start_comparison,
)
from apps.lifecycle.models import Comparison
from apps.playground.models import TestSetRun
from apps.reviews.models import Decision
from tests.factories import ServingEndpointFactory, TestInputFactory, TestSetFactory
from tests.servers import FakeServer

from .conftest import approved

INCUMBENT = "llama-3.1-8b"
CANDIDATE = "llama-3.3-70b"


def endpoint(server: FakeServer, name: str, model: str):  # type: ignore[no-untyped-def]
    return ServingEndpointFactory(
        name=name,
        kind="openai_compatible",
        base_url=server.url + "/v1",
        location="in_house",
        served_models=[model],
    )


def with_test_set(use_case):  # type: ignore[no-untyped-def]
    """Four cases: contains "motor", contains "queue", regex ^The, valid JSON."""
    test_set = TestSetFactory(use_case=use_case, created_by=use_case.owner)
    for kind, expected in (
        ("contains", "motor"),
        ("contains", "queue"),
        ("regex", "^The"),
        ("json", ""),
    ):
        TestInputFactory(test_set=test_set, check_kind=kind, expected=expected)
    return test_set


def proposal(use_case, incumbent, candidate, model=CANDIDATE):  # type: ignore[no-untyped-def]
    return Comparison.objects.create(
        use_case=use_case,
        workload="classification",
        incumbent={"endpoint": incumbent.pk, "model": INCUMBENT},
        candidate={"endpoint": candidate.pk, "model": model},
        reason="newer",
    )


@pytest.fixture
def setup(alice, bob, incumbent_server):  # type: ignore[no-untyped-def]
    current = endpoint(incumbent_server, "Llama 8B", INCUMBENT)
    use_case = approved(alice, bob, [(current, INCUMBENT, 1)])
    with_test_set(use_case)
    return use_case, current


@pytest.mark.django_db
class TestGate:
    def test_a_regressing_candidate_gets_its_pass_rates_and_cannot_be_adopted(
        self, setup, bob, regressing_server
    ):
        use_case, current = setup
        worse = endpoint(regressing_server, "Llama 70B", CANDIDATE)
        comparison = proposal(use_case, current, worse)
        start_comparison(comparison=comparison, by=bob)
        execute_comparison(comparison_id=comparison.pk)
        comparison.refresh_from_db()
        assert comparison.status == Comparison.Status.BLOCKED
        incumbent, candidate = (
            comparison.result["incumbent"],
            comparison.result["candidate"],
        )
        # "The claim goes to the motor queue.": motor, queue, ^The; not JSON.
        assert (incumbent["passed"], incumbent["count"]) == (3, 4)
        # "Motor queue.": queue only.
        assert (candidate["passed"], candidate["count"]) == (1, 4)
        assert candidate["checks"]["contains"] == {
            "passed": 1,
            "count": 2,
            "pass_rate": 0.5,
        }
        assert candidate["checks"]["regex"]["passed"] == 0
        assert incumbent["latency_p50_ms"] is not None
        assert incumbent["latency_p95_ms"] >= incumbent["latency_p50_ms"]
        assert {f["check"] for f in candidate["failures"]} == {
            "contains",
            "regex",
            "json",
        }
        assert comparison.result["gate"]["passed"] is False

        decisions = Decision.objects.count()
        routes = current_routes(use_case)
        with pytest.raises(ValidationError) as refused:
            adopt_comparison(comparison=comparison, by=bob)
        assert "passed the gate" in str(refused.value)
        assert Decision.objects.count() == decisions
        assert current_routes(use_case) == routes

    def test_a_passing_candidate_is_adopted_as_an_amendment_of_the_routes(
        self, setup, bob, alice, passing_server
    ):
        use_case, current = setup
        better = endpoint(passing_server, "Llama 70B", CANDIDATE)
        comparison = proposal(use_case, current, better)
        start_comparison(comparison=comparison, by=bob)
        execute_comparison(comparison_id=comparison.pk)
        comparison.refresh_from_db()
        assert comparison.status == Comparison.Status.PASSED
        assert comparison.result["candidate"]["passed"] == 3
        with pytest.raises(PermissionDenied):
            adopt_comparison(comparison=comparison, by=alice)
        decision = adopt_comparison(comparison=comparison, by=bob)
        assert decision.is_amendment
        assert f"comparison #{comparison.pk}" in decision.comment
        assert current_routes(use_case)[0]["targets"] == [
            {"endpoint": better.pk, "model": CANDIDATE, "weight": 1}
        ]
        comparison.refresh_from_db()
        assert comparison.status == Comparison.Status.ADOPTED
        assert comparison.adopted_decision_id == decision.pk

    def test_a_use_case_without_test_sets_cannot_be_compared_and_nothing_is_recorded(
        self, alice, bob, incumbent_server, passing_server
    ):
        current = endpoint(incumbent_server, "Llama 8B", INCUMBENT)
        use_case = approved(alice, bob, [(current, INCUMBENT, 1)])
        comparison = proposal(
            use_case, current, endpoint(passing_server, "Llama 70B", CANDIDATE)
        )
        with pytest.raises(ValidationError) as refused:
            start_comparison(comparison=comparison, by=bob)
        assert "no test set" in str(refused.value)
        comparison.refresh_from_db()
        assert comparison.status == Comparison.Status.PROPOSED
        assert not TestSetRun.objects.exists()

    def test_an_external_candidate_for_must_stay_data_is_refused(
        self, alice, bob, incumbent_server, passing_server
    ):
        current = endpoint(incumbent_server, "Llama 8B", INCUMBENT)
        use_case = approved(
            alice, bob, [(current, INCUMBENT, 1)], must_stay_in_infrastructure=True
        )
        with_test_set(use_case)
        outside = ServingEndpointFactory(
            name="Cloud",
            kind="openai_compatible",
            base_url=passing_server.url + "/v1",
            location="external",
            served_models=[CANDIDATE],
        )
        comparison = proposal(use_case, current, outside)
        with pytest.raises(ValidationError):
            start_comparison(comparison=comparison, by=bob)
        comparison.refresh_from_db()
        assert comparison.status == Comparison.Status.PROPOSED
        assert not TestSetRun.objects.exists()


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_comparison_with_progress(
    worker, setup, bob, client, passing_server
):
    use_case, current = setup
    comparison = proposal(
        use_case, current, endpoint(passing_server, "Llama 70B", CANDIDATE)
    )
    client.force_login(bob)
    response = client.post(f"/lifecycle/comparisons/{comparison.pk}/start/")
    assert response.status_code == 302
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        fragment = client.get(
            comparison.get_absolute_url(), HTTP_HX_REQUEST="true"
        ).content.decode()
        if "every 1s" not in fragment:
            break
        time.sleep(0.1)
    comparison.refresh_from_db()
    assert comparison.status == Comparison.Status.PASSED, comparison.error
    assert "comparison-table" in fragment
