"""The LLM judge grades answers against a rubric on a loopback model."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.lifecycle.comparisons import execute_comparison, start_comparison
from apps.lifecycle.models import Comparison
from apps.playground.checks import check_problem
from apps.playground.judge import judge_endpoint_problem
from apps.playground.models import TestSet, TestSetRun
from tests.factories import ServingEndpointFactory, TestInputFactory, TestSetFactory
from tests.servers import FakeServer

from .conftest import approved
from .test_comparisons import CANDIDATE, INCUMBENT, endpoint, proposal

RUBRIC = "Names the motor queue; says nothing else is needed"


@pytest.fixture
def judge_server() -> Iterator[FakeServer]:
    """A judge that passes an answer naming "motor" and fails any other."""
    with FakeServer() as server:

        def grade(request):  # type: ignore[no-untyped-def]
            prompt = request.json()["messages"][-1]["content"]
            answer = prompt.split("Answer to grade:\n", 1)[1]
            server.chat_reply = (
                "PASS\nIt names the motor queue."
                if "motor" in answer
                else "FAIL\nNo motor queue named."
            )
            return server._chat(request)

        server.route("POST", "/v1/chat/completions", grade)
        yield server


def judge_endpoint(server, *, location="in_house"):  # type: ignore[no-untyped-def]
    return ServingEndpointFactory(
        name=f"Judge ({location})",
        kind="openai_compatible",
        base_url=server.url + "/v1",
        location=location,
        served_models=["judge-model"],
        # Priced per token, so the judge's own cost shows.
        input_usd_per_mtok=Decimal("1.00"),
        output_usd_per_mtok=Decimal("2.00"),
    )


def judged_test_set(use_case, judge):  # type: ignore[no-untyped-def]
    test_set = TestSetFactory(
        use_case=use_case,
        created_by=use_case.owner,
        judge_endpoint=judge,
        judge_model="judge-model",
    )
    for prompt in ("A van hit a fence.", "A car hit a wall."):
        TestInputFactory(
            test_set=test_set, prompt=prompt, check_kind="judge", expected=RUBRIC
        )
    return test_set


@pytest.mark.django_db
def test_the_judge_grades_both_sides_against_a_deterministic_loopback_model(
    alice, bob, incumbent_server, regressing_server, judge_server
):
    current = endpoint(incumbent_server, "Llama 8B", INCUMBENT)
    use_case = approved(alice, bob, [(current, INCUMBENT, 1)])
    judged_test_set(use_case, judge_endpoint(judge_server))
    comparison = proposal(
        use_case, current, endpoint(regressing_server, "Llama 70B", CANDIDATE)
    )
    start_comparison(comparison=comparison, by=bob)
    execute_comparison(comparison_id=comparison.pk)
    comparison.refresh_from_db()
    incumbent = comparison.result["incumbent"]
    candidate = comparison.result["candidate"]
    # "The claim goes to the motor queue." names it; "Motor queue." does not
    # (the judge reads lower-case "motor").
    assert incumbent["checks"]["judge"] == {"passed": 2, "count": 2, "pass_rate": 1.0}
    assert candidate["checks"]["judge"] == {"passed": 0, "count": 2, "pass_rate": 0.0}
    assert comparison.status == Comparison.Status.BLOCKED
    assert {f["verdict"] for f in candidate["failures"]} == {
        "FAIL\nNo motor queue named."
    }
    assert Decimal(incumbent["judge_cost_usd"]) > 0
    assert Decimal(candidate["judge_cost_usd"]) > 0
    # Each case was sent to the judge with the rubric's criteria.
    judged = [r.json()["messages"][-1]["content"] for r in judge_server.requests]
    assert len(judged) == 4
    assert all("- Names the motor queue" in p for p in judged)


@pytest.mark.django_db
def test_the_judge_is_refused_on_an_external_endpoint_for_must_stay_data(
    alice, bob, incumbent_server, regressing_server, judge_server
):
    current = endpoint(incumbent_server, "Llama 8B", INCUMBENT)
    use_case = approved(
        alice, bob, [(current, INCUMBENT, 1)], must_stay_in_infrastructure=True
    )
    outside = judge_endpoint(judge_server, location="external")
    problem = judge_endpoint_problem(
        use_case=use_case, endpoint=outside, model="judge-model"
    )
    assert problem is not None and "must stay in-house" in problem
    judged_test_set(use_case, outside)
    comparison = proposal(
        use_case, current, endpoint(regressing_server, "Llama 70B", CANDIDATE)
    )
    with pytest.raises(ValidationError) as refused:
        start_comparison(comparison=comparison, by=bob)
    assert "must stay in-house" in str(refused.value)
    assert not TestSetRun.objects.exists()
    assert judge_server.requests == []


@pytest.mark.django_db
def test_the_page_refuses_an_external_judge_for_must_stay_data_and_keeps_the_old(
    client, alice, bob, judge_server
):
    from tests.factories import UseCaseFactory

    use_case = UseCaseFactory(owner=alice, must_stay_in_infrastructure=True)
    test_set = TestSetFactory(use_case=use_case, created_by=alice)
    outside = judge_endpoint(judge_server, location="external")
    client.force_login(alice)
    response = client.post(
        reverse("playground:test_set_judge", args=[test_set.pk]),
        {"judge_endpoint": outside.pk, "judge_model": "judge-model"},
    )
    assert response.status_code == 400
    assert "must stay in-house" in response.content.decode()
    test_set.refresh_from_db()
    assert test_set.judge_endpoint is None
    inside = judge_endpoint(judge_server)
    response = client.post(
        reverse("playground:test_set_judge", args=[test_set.pk]),
        {"judge_endpoint": inside.pk, "judge_model": "judge-model"},
    )
    assert response.status_code == 302
    assert TestSet.objects.get().judge_endpoint == inside


def test_a_rubric_without_criteria_is_refused():
    assert "criteria" in check_problem("judge", " ; - ;\n")
    assert check_problem("judge", RUBRIC) is None


@pytest.mark.django_db
def test_the_input_form_refuses_a_rubric_without_criteria_and_records_nothing(
    client, alice
):
    test_set = TestSetFactory(created_by=alice, use_case__owner=alice)
    client.force_login(alice)
    response = client.post(
        reverse("playground:test_input_add", args=[test_set.pk]),
        {"prompt": "A van hit a fence.", "check_kind": "judge", "expected": " ; "},
    )
    assert response.status_code == 400
    assert "criteria" in response.content.decode()
    assert not test_set.inputs.exists()
