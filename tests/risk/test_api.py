"""The governance gates through the API: field errors, 403s, nothing recorded."""

from __future__ import annotations

import pytest

from apps.reviews.models import Condition, Decision, Incident
from apps.risk.models import ApprovalStage, RiskAssessment, StageDecision

from .conftest import EVIDENCE, SOVEREIGNTY

UC = "/api/v1/use-cases/{}/"


@pytest.mark.django_db
def test_indigenous_data_without_sovereignty_answers_is_a_400_with_field_errors(
    api_client, alice, submitted
):
    api_client.force_authenticate(alice)
    response = api_client.post(
        UC.format(submitted.pk) + "risk-assessment/",
        {
            "charter_likelihood": "occasional",
            "charter_impact": "low",
            "pia_reference": "PIA-1",
            "sovereignty_evidence": {**EVIDENCE, "data_hosting": "overseas"},
        },
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert "sovereignty.whakapapa" in body
    assert "sovereignty_evidence.data_hosting" in body
    assert not RiskAssessment.objects.exists()


@pytest.mark.django_db
def test_the_owner_records_a_risk_assessment_and_everyone_who_sees_it_reads_it(
    api_client, alice, bob, submitted
):
    api_client.force_authenticate(alice)
    url = UC.format(submitted.pk) + "risk-assessment/"
    response = api_client.post(
        url,
        {
            "charter_likelihood": "probable",
            "charter_impact": "moderate",
            "transparency": ["interacts_with_people"],
            "pia_reference": "PIA-1",
            "sovereignty": SOVEREIGNTY,
            "sovereignty_evidence": EVIDENCE,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["eu_ai_act_tier"] == "limited"
    assert response.json()["charter_risk"] == "high"
    api_client.force_authenticate(bob)
    read = api_client.get(url).json()
    assert read["result"]["must_publish"] is True
    assert [s["stage"] for s in read["result"]["stages"]] == [
        "privacy",
        "legal",
        "data_sovereignty",
    ]
    assert api_client.post(url, {}, format="json").status_code == 403


@pytest.mark.django_db
def test_the_board_cannot_approve_through_the_api_before_the_stages(
    api_client, bob, submitted
):
    api_client.force_authenticate(bob)
    response = api_client.post(
        UC.format(submitted.pk) + "decision/",
        {"outcome": "approved", "pattern": "open_source_self_hosted"},
        format="json",
    )
    assert response.status_code == 400
    assert any("sovereignty" in m for m in response.json()["outcome"])
    assert not Decision.objects.exists()


@pytest.mark.django_db
def test_stages_are_listed_and_decided_by_their_approvers_only(
    api_client, bob, dave, submitted
):
    api_client.force_authenticate(dave)
    stages = api_client.get(UC.format(submitted.pk) + "stages/").json()
    assert [(s["kind"], s["status"]) for s in stages] == [
        ("privacy", "pending"),
        ("data_sovereignty", "pending"),
    ]
    decide = UC.format(submitted.pk) + f"stages/{stages[0]['id']}/decide/"
    assert (
        api_client.post(decide, {"outcome": "approved"}, format="json").status_code
        == 403
    )
    assert not StageDecision.objects.exists()
    api_client.force_authenticate(bob)
    missing_reason = api_client.post(decide, {"outcome": "rejected"}, format="json")
    assert missing_reason.status_code == 400
    assert "reason" in missing_reason.json()
    ok = api_client.post(
        decide, {"outcome": "approved", "evidence": "PIA-1"}, format="json"
    )
    assert ok.status_code == 201
    assert ok.json()["status"] == "approved"
    assert ok.json()["decisions"][0]["decided_by"] == "bob"
    assert ApprovalStage.objects.get(pk=stages[0]["id"]).status == "approved"


@pytest.mark.django_db
def test_conditions_and_incidents_through_the_api(api_client, alice, bob, erin):
    from apps.usecases.services import submit_use_case
    from tests.factories import UseCaseFactory

    use_case = UseCaseFactory(owner=alice, requests_per_day=500)
    submit_use_case(use_case=use_case, by=alice)
    api_client.force_authenticate(bob)
    decided = api_client.post(
        UC.format(use_case.pk) + "decision/",
        {
            "outcome": "approved",
            "pattern": "proprietary_api",
            "overrule_reason": "Test.",
            "conditions": ["Bias audit | 2027-01-31 | before go-live"],
        },
        format="json",
    )
    assert decided.status_code == 201, decided.content
    assert decided.json()["conditions"] == ["Bias audit"]
    [task] = api_client.get(UC.format(use_case.pk) + "conditions/").json()
    assert (task["owner"], task["due_date"], task["before_go_live"]) == (
        "alice",
        "2027-01-31",
        True,
    )
    api_client.force_authenticate(alice)
    resolve = UC.format(use_case.pk) + f"conditions/{task['id']}/resolve/"
    assert (
        api_client.post(
            resolve, {"status": "waived", "evidence": "x"}, format="json"
        ).status_code
        == 400
    )
    assert Condition.objects.get().status == "open"
    done = api_client.post(
        resolve, {"status": "done", "evidence": "Audit A-1"}, format="json"
    )
    assert done.json()["status"] == "done"

    incidents = UC.format(use_case.pk) + "incidents/"
    api_client.force_authenticate(erin)
    report = {
        "kind": "bias_complaint",
        "severity": "medium",
        "title": "Skewed",
        "description": "Complaint 4.",
    }
    assert api_client.post(incidents, report, format="json").status_code == 403
    assert not Incident.objects.exists()
    api_client.force_authenticate(alice)
    created = api_client.post(incidents, report, format="json")
    assert created.status_code == 201
    action = api_client.post(
        incidents + f"{created.json()['id']}/actions/",
        {"body": "Retrained the router.", "resolve": True},
        format="json",
    )
    assert action.json()["status"] == "resolved"
    api_client.force_authenticate(erin)
    [listed] = api_client.get(incidents).json()
    assert listed["actions"][0]["body"] == "Retrained the router."
