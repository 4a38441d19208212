"""Periodic review by tier, and stage decisions on the audit trail."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from apps.reviews import services as review_services
from apps.reviews.models import Decision
from apps.reviews.periodic import announce_reviews_due, reviews_due
from apps.reviews.timeline import build_timeline
from apps.risk import services
from apps.risk.models import ApprovalStage
from apps.usecases.services import submit_use_case
from tests.factories import UseCaseFactory

from .conftest import complete_answers


def approved(alice, bob, *, high: bool):  # type: ignore[no-untyped-def]
    use_case = UseCaseFactory(owner=alice, requests_per_day=500)
    submit_use_case(use_case=use_case, by=alice)
    if high:
        services.record_risk_assessment(
            use_case=use_case,
            by=alice,
            answers=complete_answers(high_risk_areas=["employment"]),
        )
        for stage in ApprovalStage.objects.filter(use_case=use_case):
            services.decide_stage(stage=stage, by=bob, outcome="approved")
    review_services.decide_use_case(
        use_case=use_case,
        by=bob,
        outcome="approved",
        pattern="proprietary_api",
        overrule_reason="Test.",
    )
    decided = Decision.objects.get(use_case=use_case).created_at
    return use_case, timezone.localdate(decided)


@pytest.mark.django_db
def test_a_high_risk_use_case_is_due_for_review_sooner_than_a_minimal_one(
    alice, bob, events, django_capture_on_commit_callbacks
):
    high, on = approved(alice, bob, high=True)
    minimal, _ = approved(alice, bob, high=False)
    five_months = on + datetime.timedelta(days=150)
    one_year = on.replace(year=on.year + 1)
    two_years = on.replace(year=on.year + 2)
    assert reviews_due(today=five_months) == []
    assert [(d.use_case, d.tier) for d in reviews_due(today=one_year)] == [
        (high, "high")
    ]
    assert {d.use_case for d in reviews_due(today=two_years)} == {high, minimal}
    with django_capture_on_commit_callbacks(execute=True):
        announce_reviews_due(today=one_year)
    assert [e.kind for e in events if e.use_case_id == high.pk] == ["review_due"]


@pytest.mark.django_db
def test_the_board_queue_lists_use_cases_due_for_review(client, alice, bob):
    with time_machine.travel(datetime.datetime(2026, 3, 2, 9, tzinfo=datetime.UTC)):
        use_case, _ = approved(alice, bob, high=False)
    with time_machine.travel(datetime.datetime(2027, 3, 2, 9, tzinfo=datetime.UTC)):
        client.force_login(bob)  # a session of that day (sessions expire)
        page = client.get(reverse("reviews:queue")).content.decode()
    assert 'id="reviews-due"' not in page  # minimal risk: every 24 months
    with time_machine.travel(datetime.datetime(2028, 3, 3, 9, tzinfo=datetime.UTC)):
        client.force_login(bob)
        page = client.get(reverse("reviews:queue")).content.decode()
    assert 'id="reviews-due"' in page
    assert f"/reviews/{use_case.pk}/" in page.split('id="reviews-due"')[1]


@pytest.mark.django_db
def test_stage_decisions_and_the_risk_assessment_are_on_the_audit_trail(
    submitted, alice, bob
):
    services.record_risk_assessment(
        use_case=submitted, by=alice, answers=complete_answers()
    )
    stage = ApprovalStage.objects.get(use_case=submitted, kind="privacy")
    services.decide_stage(
        stage=stage, by=bob, outcome="changes_requested", reason="Attach the PIA."
    )
    entries = build_timeline(use_case=submitted, user=bob)
    summaries = [e.summary for e in entries]
    assert "Risk assessment v1: EU AI Act minimal, Charter risk moderate" in summaries
    [decided] = [e for e in entries if e.kind == "stage_decided"]
    assert decided.summary == (
        "Privacy stage: request changes by bob (stage changes requested)"
    )
    assert decided.details == ["Reason: Attach the PIA."]
