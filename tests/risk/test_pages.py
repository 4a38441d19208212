"""Risk pages: the questionnaire, stage decisions, register, conditions, incidents."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from apps.reviews.models import Condition, Incident, IncidentAction
from apps.risk import services
from apps.risk.models import ApprovalStage, RiskAssessment, RiskDraft, StageDecision
from apps.usecases.models import AuditEvent

from .conftest import EVIDENCE, SOVEREIGNTY


def form_data(**overrides):  # type: ignore[no-untyped-def]
    data = {
        "charter_likelihood": "probable",
        "charter_impact": "high",
        "pia_reference": "PIA-2026-07",
        "monitoring_plan": "Weekly sample review by the clinical lead.",
        **{f"sovereignty_{k}": v for k, v in SOVEREIGNTY.items()},
        **{f"evidence_{k}": v for k, v in EVIDENCE.items()},
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.mark.django_db
def test_the_owner_saves_a_risk_assessment_and_the_panel_explains_it(
    client, alice, sensitive
):
    client.force_login(alice)
    url = reverse("risk:assessment", args=[sensitive.pk])
    page = client.get(url)
    assert "Te Mana Raraunga" in page.content.decode()
    response = client.post(url, form_data(high_risk_areas=["employment"]))
    assert response.status_code == 302
    saved = RiskAssessment.objects.get()
    assert (saved.eu_ai_act_tier, saved.charter_risk) == ("high", "high")
    panel = client.get(reverse("risk:panel", args=[sensitive.pk])).content.decode()
    assert "High-risk under the EU AI Act" in panel
    assert "must be published" in panel


@pytest.mark.django_db
def test_indigenous_data_without_answers_shows_field_errors_and_records_nothing(
    client, alice, sensitive
):
    client.force_login(alice)
    response = client.post(
        reverse("risk:assessment", args=[sensitive.pk]),
        form_data(sovereignty_rangatiratanga="", evidence_kaitiaki_reviewer=""),
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) == {
        "sovereignty_rangatiratanga",
        "evidence_kaitiaki_reviewer",
    }
    assert not RiskAssessment.objects.exists()


@pytest.mark.django_db
def test_overseas_hosting_for_must_stay_data_is_a_field_error(client, alice, sensitive):
    client.force_login(alice)
    response = client.post(
        reverse("risk:assessment", args=[sensitive.pk]),
        form_data(evidence_model_hosting="overseas"),
    )
    assert response.status_code == 400
    assert "must stay" in str(response.context["form"].errors["evidence_model_hosting"])
    assert not RiskAssessment.objects.exists()


@pytest.mark.django_db
def test_a_draft_keeps_unfinished_answers_without_checking_them(
    client, alice, sensitive
):
    client.force_login(alice)
    url = reverse("risk:assessment", args=[sensitive.pk])
    response = client.post(url, {"charter_likelihood": "occasional", "save_draft": "1"})
    assert response.status_code == 302
    assert RiskDraft.objects.get().answers["charter_likelihood"] == "occasional"
    assert not RiskAssessment.objects.exists()
    assert 'value="occasional" selected' in client.get(url).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["bob", "carol", "erin"])
def test_only_the_owner_edits_the_risk_assessment(client, request, sensitive, who):
    client.force_login(request.getfixturevalue(who))
    url = reverse("risk:assessment", args=[sensitive.pk])
    assert client.post(url, form_data()).status_code in {403, 404}
    assert not RiskAssessment.objects.exists()


@pytest.mark.django_db
def test_an_approver_decides_a_stage_on_the_page(client, bob, submitted):
    stage = ApprovalStage.objects.get(use_case=submitted, kind="privacy")
    client.force_login(bob)
    url = reverse("risk:decide_stage", args=[stage.pk])
    refused = client.post(url, {"outcome": "rejected", "reason": ""})
    assert refused.status_code == 400
    assert not StageDecision.objects.exists()
    assert (
        client.post(url, {"outcome": "approved", "evidence": "PIA-7"}).status_code
        == 302
    )
    stage.refresh_from_db()
    assert stage.status == "approved"


@pytest.mark.django_db
def test_a_stage_decision_by_someone_else_is_forbidden(client, dave, submitted):
    stage = ApprovalStage.objects.get(use_case=submitted, kind="privacy")
    client.force_login(dave)
    response = client.post(
        reverse("risk:decide_stage", args=[stage.pk]), {"outcome": "approved"}
    )
    assert response.status_code == 403
    assert not StageDecision.objects.exists()


@pytest.mark.django_db
def test_the_register_lists_approved_high_charter_risk_use_cases_as_csv_and_json(
    client, alice, bob, submitted
):
    from apps.reviews import services as review_services

    services.record_risk_assessment(
        use_case=submitted,
        by=alice,
        answers={
            "charter_likelihood": "probable",
            "charter_impact": "moderate",
            "pia_reference": "PIA-1",
            "monitoring_plan": "=HYPERLINK(1)",
            "sovereignty": SOVEREIGNTY,
            "sovereignty_evidence": EVIDENCE,
        },
    )
    for stage in ApprovalStage.objects.filter(use_case=submitted):
        services.decide_stage(stage=stage, by=bob, outcome="approved")
    review_services.decide_use_case(
        use_case=submitted,
        by=bob,
        outcome="approved",
        pattern="open_source_self_hosted",
        overrule_reason="In-house.",
    )
    client.force_login(bob)
    url = reverse("risk:register")
    rows = list(
        csv.DictReader(io.StringIO(client.get(url + "?format=csv").content.decode()))
    )
    assert [(r["name"], r["charter_risk"]) for r in rows] == [
        ("Whānau health triage", "high")
    ]
    assert rows[0]["human_oversight"] == "'=HYPERLINK(1)"
    entries = client.get(url + "?format=json").json()["entries"]
    assert entries[0]["use_case_id"] == submitted.pk
    evidence = client.get(
        reverse("risk:evidence", args=[submitted.pk])
    ).content.decode()
    assert "Privacy stage approved by bob" in evidence


@pytest.mark.django_db
def test_anyone_who_sees_the_use_case_reports_an_incident_and_owner_and_board_hear(
    client, alice, bob, carol, dave, events, django_capture_on_commit_callbacks
):
    from tests.factories import UseCaseFactory

    use_case = UseCaseFactory(owner=alice, status="live")
    client.force_login(dave)
    url = reverse("reviews:report_incident", args=[use_case.pk])
    bad = client.post(url, {"kind": "outage", "severity": "apocalyptic", "title": "x"})
    assert bad.status_code == 400
    assert not Incident.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url,
            {
                "kind": "harmful_output",
                "severity": "high",
                "title": "Rude reply",
                "description": "It insulted a claimant.",
            },
        )
    assert response.status_code == 302
    incident = Incident.objects.get()
    [event] = [e for e in events if e.kind == "incident_reported"]
    assert (event.user_ids, event.roles) == ((alice.pk,), ("board",))
    # Carol (another team) sees the internal, live use-case but does not handle
    # its incidents.
    client.force_login(carol)
    act = reverse("reviews:incident_action", args=[incident.pk])
    assert client.post(act, {"body": "Looked", "resolve": "on"}).status_code == 403
    assert not IncidentAction.objects.exists()
    client.force_login(alice)
    assert (
        client.post(act, {"body": "Prompt fixed.", "resolve": "on"}).status_code == 302
    )
    incident.refresh_from_db()
    assert (incident.status, incident.resolution) == ("resolved", "Prompt fixed.")
    panel = client.get(reverse("reviews:tasks", args=[use_case.pk])).content.decode()
    assert "Rude reply" in panel
    assert AuditEvent.objects.filter(kind="reviews.incident_reported").exists()


@pytest.mark.django_db
def test_an_auditor_cannot_report_an_incident(client, alice, erin):
    from tests.factories import UseCaseFactory

    use_case = UseCaseFactory(owner=alice, status="live")
    client.force_login(erin)
    response = client.post(
        reverse("reviews:report_incident", args=[use_case.pk]),
        {"kind": "outage", "severity": "low", "title": "t", "description": "d"},
    )
    assert response.status_code == 403
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_the_owner_marks_a_condition_done_on_the_page(client, alice, bob):
    from apps.reviews import services as review_services
    from apps.usecases.services import submit_use_case
    from tests.factories import UseCaseFactory

    use_case = UseCaseFactory(owner=alice, requests_per_day=500)
    submit_use_case(use_case=use_case, by=alice)
    review_services.decide_use_case(
        use_case=use_case,
        by=bob,
        outcome="approved",
        pattern="proprietary_api",
        overrule_reason="Test.",
        conditions=["Red-team it | before go-live"],
    )
    condition = Condition.objects.get()
    client.force_login(alice)
    url = reverse("reviews:resolve_condition", args=[condition.pk])
    assert client.post(url, {"status": "done", "evidence": ""}).status_code == 400
    condition.refresh_from_db()
    assert condition.status == "open"
    assert client.post(url, {"status": "done", "evidence": "RT-1"}).status_code == 302
    condition.refresh_from_db()
    assert condition.status == "done"


@pytest.mark.django_db
def test_overdue_conditions_and_open_incidents_show_for_the_portfolio(
    client, alice, bob, carol, dave
):
    import datetime

    from apps.reviews import conditions
    from apps.reviews import services as review_services
    from apps.reviews.incidents import report_incident
    from apps.usecases.services import submit_use_case
    from tests.factories import UseCaseFactory

    use_case = UseCaseFactory(
        owner=alice, requests_per_day=500, data_classification="restricted"
    )
    submit_use_case(use_case=use_case, by=alice)
    [security] = ApprovalStage.objects.filter(use_case=use_case)
    assert (security.kind, security.approvers()) == ("security", [dave])
    services.decide_stage(stage=security, by=dave, outcome="approved")
    review_services.decide_use_case(
        use_case=use_case,
        by=bob,
        outcome="approved",
        pattern="proprietary_api",
        overrule_reason="Test.",
        conditions=["Bias audit | 2026-11-01"],
    )
    conditions.mark_overdue_conditions(today=datetime.date(2026, 12, 1))
    report_incident(
        use_case=use_case,
        by=alice,
        kind="outage",
        severity="critical",
        title="Down all morning",
        description="Timeouts.",
    )
    client.force_login(bob)
    page = client.get(reverse("reviews:attention")).content.decode()
    assert "Bias audit" in page
    assert "Down all morning" in page
    queue = client.get(reverse("reviews:queue")).content.decode()
    assert 'id="overdue-conditions"' in queue
    # Carol (another team) does not see Alice's confidential use-case at all.
    client.force_login(carol)
    page = client.get(reverse("reviews:attention")).content.decode()
    assert "Bias audit" not in page
    assert "Down all morning" not in page


@pytest.mark.django_db
def test_platform_saves_a_new_risk_policy_version_and_a_bad_one_is_refused(
    client, dave, bob, alice, sensitive
):
    from apps.risk.models import RiskPolicyVersion
    from apps.risk.rules import RiskPolicy

    url = reverse("risk:policy")
    data = RiskPolicy().as_dict()
    data["charter_matrix"]["improbable"]["high"] = "banana"
    client.force_login(dave)
    refused = client.post(url, {"data": json.dumps(data), "note": "Bad"})
    assert refused.status_code == 400
    assert "improbable, high" in str(refused.context["form"].errors["data"])
    assert RiskPolicyVersion.objects.count() == 1  # the default, made on reading
    data["charter_matrix"]["improbable"]["high"] = "high"
    data["stage_rules"]["privacy"] = {"roles": [], "users": ["alice"], "mode": "all"}
    assert (
        client.post(url, {"data": json.dumps(data), "note": "Stricter"}).status_code
        == 302
    )
    assert RiskPolicyVersion.objects.current().number == 2
    # The new rules apply to the next assessment.
    client.force_login(alice)
    client.post(
        reverse("risk:assessment", args=[sensitive.pk]),
        form_data(charter_likelihood="improbable", charter_impact="high"),
    )
    assert RiskAssessment.objects.get().charter_risk == "high"
    client.force_login(bob)
    assert client.get(url).status_code == 200
    assert client.post(url, {"data": "{}"}).status_code == 403
    assert RiskPolicyVersion.objects.count() == 2


@pytest.mark.django_db
def test_the_use_case_list_flags_an_overdue_condition_and_an_open_incident(
    client, alice, bob
):
    import datetime

    from apps.reviews import conditions
    from apps.reviews import services as review_services
    from apps.reviews.incidents import report_incident
    from apps.usecases.services import submit_use_case
    from tests.factories import UseCaseFactory

    use_case = UseCaseFactory(owner=alice, requests_per_day=500)
    submit_use_case(use_case=use_case, by=alice)
    review_services.decide_use_case(
        use_case=use_case,
        by=bob,
        outcome="approved",
        pattern="proprietary_api",
        overrule_reason="Test.",
        conditions=["Bias audit | 2026-11-01"],
    )
    client.force_login(alice)
    listing = reverse("usecases:list")
    assert "condition overdue" not in client.get(listing).content.decode()
    conditions.mark_overdue_conditions(today=datetime.date(2026, 12, 1))
    report_incident(
        use_case=use_case,
        by=bob,
        kind="outage",
        severity="low",
        title="Slow",
        description="Slow answers.",
    )
    page = client.get(listing).content.decode()
    assert "condition overdue" in page
    assert "incident open" in page
