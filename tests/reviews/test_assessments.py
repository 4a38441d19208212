"""The framework's assessments on the board's pages: queue columns, steps, diff."""

import pytest
from django.urls import reverse

from apps.reviews.timeline import build_timeline
from apps.usecases.models import UseCase
from apps.usecases.services import save_use_case
from tests.factories import UserFactory

from .conftest import assess, record_assessment, submitted

QUEUE = reverse("reviews:queue")
HTMX = {"HX-Request": "true"}  # the results fragment only, without the filters


@pytest.mark.django_db
class TestQueueColumns:
    def test_queue_shows_recommendation_and_estimated_monthly_cost(
        self, client, bob, waiting
    ):
        assessment = record_assessment(
            waiting, outcome="open_source_managed", monthly_cost=1234.5
        )
        client.force_login(bob)
        row = client.get(QUEUE, headers=HTMX).content.decode()
        assert "Open-source, managed" in row
        assert "$1,234" in row or "$1,235" in row
        assert assessment.monthly_cost is not None

    def test_queue_uses_the_latest_assessment_only(self, client, bob, waiting):
        record_assessment(waiting, outcome="hybrid")
        record_assessment(waiting, outcome="proprietary_api")
        client.force_login(bob)
        body = client.get(QUEUE, headers=HTMX).content.decode()
        assert "Proprietary API" in body and "Hybrid" not in body

    def test_it_filters_by_recommended_outcome(self, client, bob, alice):
        api = submitted(alice, title="API case")
        hosted = submitted(alice, title="Hosted case")
        submitted(alice, title="Unassessed case")
        record_assessment(api, outcome="proprietary_api")
        record_assessment(hosted, outcome="open_source_self_hosted")
        client.force_login(bob)
        body = client.get(
            QUEUE, {"outcome": "proprietary_api"}, headers=HTMX
        ).content.decode()
        assert "API case" in body
        assert "Hosted case" not in body and "Unassessed case" not in body

    def test_it_sorts_by_estimated_cost(self, client, bob, alice):
        cheap = submitted(alice, title="Cheap case")
        dear = submitted(alice, title="Dear case")
        record_assessment(cheap, monthly_cost=10)
        record_assessment(dear, monthly_cost=90_000)
        client.force_login(bob)
        down = client.get(QUEUE, {"ordering": "-cost"}).content.decode()
        assert down.index("Dear case") < down.index("Cheap case")


@pytest.mark.django_db
class TestReviewPage:
    def test_review_page_shows_the_five_steps_and_the_cost_chart(
        self, client, bob, waiting
    ):
        assert assess(waiting) is not None
        client.force_login(bob)
        page = client.get(reverse("reviews:review", args=[waiting.pk])).content.decode()
        for title in (
            "Data governance",
            "Volume",
            "Task complexity",
            "Operational readiness",
            "Strategic timeline",
        ):
            assert title in page
        assert "data-plotly-figure" in page
        assert "This is the first assessment." in page

    def test_review_page_shows_what_changed_since_the_previous_assessment(
        self, client, alice, bob
    ):
        use_case = submitted(alice, requests_per_day=2_000)
        assess(use_case)
        # Inputs change (as if edited after changes were requested) and it is
        # assessed again: the page says what moved.
        UseCase.objects.filter(pk=use_case.pk).update(requests_per_day=400_000)
        use_case.refresh_from_db()
        assert assess(use_case) is not None
        client.force_login(bob)
        page = client.get(
            reverse("reviews:review", args=[use_case.pk])
        ).content.decode()
        assert "What changed since the previous assessment" in page
        assert "requests per day" in page
        assert "2000" in page and "400000" in page

    def test_decision_records_the_recommendation_it_followed_or_overruled(
        self, client, bob, waiting
    ):
        assessment = assess(waiting)
        client.force_login(bob)
        other = next(
            p
            for p in ("proprietary_api", "open_source_managed", "hybrid")
            if p != assessment.outcome
        )
        refused = client.post(
            reverse("reviews:decide", args=[waiting.pk]),
            {"outcome": "approved", "pattern": other},
        )
        assert refused.status_code == 400
        assert "overrule_reason" in refused.context["decision_form"].errors
        client.post(
            reverse("reviews:decide", args=[waiting.pk]),
            {"outcome": "approved", "pattern": assessment.outcome},
        )
        decision = waiting.decisions.get()
        assert decision.recommended_pattern == assessment.outcome
        assert not decision.overrules

    def test_assessments_are_in_the_timeline(self, bob, waiting):
        assess(waiting)
        entries = [
            e
            for e in build_timeline(use_case=waiting, user=bob)
            if e.kind == "assessment"
        ]
        assert len(entries) == 1 and entries[0].summary.startswith("Assessed")


@pytest.mark.django_db
def test_requester_edit_after_changes_requested_shows_in_the_trail(alice, bob):
    from apps.reviews.services import decide_use_case

    use_case = submitted(alice, title="Draft title")
    decide_use_case(
        use_case=use_case, by=bob, outcome="changes_requested", comment="Clarify."
    )
    save_use_case(
        fields={"title": "Clearer title"},
        workloads=[{"task_type": "classification", "share": 100, "notes": ""}],
        by=alice,
        use_case=use_case,
    )
    entries = build_timeline(use_case=use_case, user=UserFactory(role="auditor"))
    changes = [d for e in entries if e.kind == "change" for d in e.details]
    assert changes == ["Title: Draft title → Clearer title"]
    # The workloads were rewritten but did not change, so nothing is claimed.
    assert [e.summary for e in entries if e.kind == "workloads"] == ["Workloads set."]
