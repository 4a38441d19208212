"""The assessment panel, the live intake preview and the policy page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.framework.models import Assessment, Policy, Trigger
from apps.framework.services import assess_use_case
from apps.usecases.models import UseCase
from apps.usecases.services import submit_use_case
from tests.factories import UseCaseFactory

S = UseCase.Status


def submitted(**kwargs):  # type: ignore[no-untyped-def]
    use_case = UseCaseFactory(**kwargs)
    submit_use_case(use_case=use_case, by=use_case.owner)
    return use_case


def intake_form(**overrides):  # type: ignore[no-untyped-def]
    data = {
        "title": "Email router",
        "description": "Routes email.",
        "data_classification": "internal",
        "special_categories": ["personal"],
        "requests_per_day": "60000",
        "avg_input_tokens": "1500",
        "avg_output_tokens": "500",
        "peak_factor": "2",
        "capability_need": "standard",
        "context_tokens": "8000",
        "mlops_readiness": "established",
        "horizon": "core",
        "workloads-TOTAL_FORMS": "2",
        "workloads-INITIAL_FORMS": "0",
        "workloads-0-task_type": "classification",
        "workloads-0-share": "85",
        "workloads-1-task_type": "reasoning",
        "workloads-1-share": "15",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
class TestAssessmentPanel:
    def test_the_detail_page_loads_the_recommendation_panel(
        self, client, catalogue, alice
    ):
        use_case = submitted(owner=alice)
        client.force_login(alice)
        page = client.get(reverse("usecases:detail", args=[use_case.pk])).content
        assert reverse("framework:assessment", args=[use_case.pk]).encode() in page

    def test_the_panel_shows_the_recommendation_steps_costs_and_break_even(
        self, client, catalogue, alice
    ):
        use_case = submitted(
            owner=alice,
            requests_per_day=60_000,
            horizon="core",
            workloads=[("classification", 85), ("reasoning", 15)],
        )
        assessment = use_case.assessments.get()
        assert assessment.outcome == "hybrid"
        client.force_login(alice)
        response = client.get(
            reverse("framework:assessment", args=[use_case.pk]), HTTP_HX_REQUEST="true"
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert "<html" not in html, "htmx gets the fragment only"
        assert assessment.get_outcome_display() in html
        assert f"${assessment.monthly_cost:,.0f}" in html
        for title in ("Data governance", "Volume", "Task complexity"):
            assert title in html
        assert "Routing per workload" in html
        be = assessment.result["break_even"]
        assert f"{be['fully_loaded']:,.0f}" in html
        assert f"{be['gpu_only']:,.0f}" in html
        for option in assessment.result["costs"]["options"]:
            assert option["model_name"] in html
        assert "data-plotly-figure" in html
        assert "<script>" not in html  # charts.js (in base.html) draws it: CSP

    def test_warnings_stand_out(self, client, catalogue, alice):
        use_case = submitted(
            owner=alice, data_classification="restricted", mlops_readiness="none"
        )
        warnings = use_case.assessments.get().result["warnings"]
        assert warnings
        client.force_login(alice)
        html = client.get(reverse("framework:assessment", args=[use_case.pk])).content
        assert b'class="warning" role="alert"' in html
        assert warnings[0].encode() in html.replace(b"&#x27;", b"'")

    def test_the_panel_is_a_full_page_without_htmx(self, client, catalogue, alice):
        use_case = submitted(owner=alice)
        client.force_login(alice)
        html = client.get(reverse("framework:assessment", args=[use_case.pk])).content
        assert b"<html" in html and use_case.title.encode() in html

    def test_a_draft_shows_an_unsaved_preview(self, client, catalogue, alice):
        use_case = UseCaseFactory(owner=alice)
        client.force_login(alice)
        html = client.get(reverse("framework:assessment", args=[use_case.pk])).content
        assert b"Not assessed yet" in html
        assert b"Proprietary API" in html or b"Open-source" in html
        assert not Assessment.objects.exists()

    def test_the_history_shows_what_changed_between_assessments(
        self, client, catalogue, alice
    ):
        use_case = submitted(owner=alice, requests_per_day=20_000)
        older = use_case.assessments.get()
        UseCase.objects.filter(pk=use_case.pk).update(requests_per_day=900_000)
        newer = assess_use_case(use_case=use_case, trigger=Trigger.INPUTS_CHANGED)
        client.force_login(alice)
        html = client.get(reverse("framework:assessment", args=[use_case.pk])).content
        assert b"Assessment history" in html and b"What changed" in html
        response = client.get(
            reverse("framework:diff", args=[use_case.pk]),
            {"a": older.pk, "b": newer.pk},
            HTTP_HX_REQUEST="true",
        )
        diff = response.content.decode()
        assert "requests per day" in diff
        assert "20000" in diff and "900000" in diff
        assert "Monthly cost of the recommendation" in diff

    def test_an_earlier_assessment_can_be_shown(self, client, catalogue, alice):
        use_case = submitted(owner=alice, requests_per_day=20_000)
        older = use_case.assessments.get()
        UseCase.objects.filter(pk=use_case.pk).update(requests_per_day=900_000)
        assess_use_case(use_case=use_case, trigger=Trigger.INPUTS_CHANGED)
        client.force_login(alice)
        html = client.get(
            reverse("framework:assessment", args=[use_case.pk]),
            {"assessment": older.pk},
        ).content
        assert b"an earlier assessment" in html

    def test_another_teams_restricted_use_case_is_not_found(
        self, client, catalogue, alice, carol
    ):
        use_case = submitted(owner=carol, data_classification="restricted")
        client.force_login(alice)
        for url in (
            reverse("framework:assessment", args=[use_case.pk]),
            reverse("framework:diff", args=[use_case.pk]),
        ):
            assert client.get(url).status_code == 404
        assert (
            client.post(reverse("framework:reassess", args=[use_case.pk])).status_code
            == 404
        )

    def test_an_assessment_of_another_use_case_is_not_found(
        self, client, catalogue, alice
    ):
        mine = submitted(owner=alice)
        other = submitted(owner=alice)
        client.force_login(alice)
        response = client.get(
            reverse("framework:assessment", args=[mine.pk]),
            {"assessment": other.assessments.get().pk},
        )
        assert response.status_code == 404

    def test_the_board_can_reassess_by_hand(self, client, catalogue, alice, bob):
        use_case = submitted(owner=alice)
        UseCase.objects.filter(pk=use_case.pk).update(requests_per_day=500_000)
        client.force_login(bob)
        response = client.post(reverse("framework:reassess", args=[use_case.pk]))
        assert response.status_code == 302
        latest = use_case.assessments.newest_first().first()
        assert latest.trigger == Trigger.MANUAL and latest.created_by == bob

    def test_a_requester_cannot_reassess(self, client, catalogue, alice):
        use_case = submitted(owner=alice)
        before = list(use_case.assessments.values_list("pk", flat=True))
        client.force_login(alice)
        response = client.post(reverse("framework:reassess", args=[use_case.pk]))
        assert response.status_code == 403
        assert list(use_case.assessments.values_list("pk", flat=True)) == before


@pytest.mark.django_db
class TestIntakePreview:
    def test_the_intake_form_asks_for_a_live_recommendation(self, client, alice):
        client.force_login(alice)
        html = client.get(reverse("usecases:create")).content.decode()
        assert f'hx-post="{reverse("framework:preview")}"' in html
        assert 'hx-include="#usecase-form"' in html
        assert "change from:#usecase-form delay:400ms, load" in html

    def test_a_complete_form_gets_a_recommendation_and_nothing_is_saved(
        self, client, catalogue, alice
    ):
        client.force_login(alice)
        response = client.post(reverse("framework:preview"), intake_form())
        html = response.content.decode()
        assert response.status_code == 200
        assert "Hybrid" in html
        assert "Data governance" in html
        assert not UseCase.objects.exists()
        assert not Assessment.objects.exists()

    def test_data_that_must_stay_gives_self_hosted(self, client, catalogue, alice):
        client.force_login(alice)
        html = client.post(
            reverse("framework:preview"),
            intake_form(must_stay_in_infrastructure="on"),
        ).content.decode()
        assert "Open-source, self-hosted" in html

    def test_an_incomplete_form_says_what_to_fill_in(self, client, catalogue, alice):
        client.force_login(alice)
        data = intake_form(requests_per_day="", horizon="")
        html = client.post(reverse("framework:preview"), data).content.decode()
        assert "Fill in requests a day and the horizon to see a recommendation" in html

    def test_shares_that_do_not_add_up_are_explained(self, client, catalogue, alice):
        client.force_login(alice)
        data = intake_form(**{"workloads-1-share": "5"})
        html = client.post(reverse("framework:preview"), data).content.decode()
        assert "Shares must sum to 100" in html

    def test_the_preview_needs_a_signed_in_user(self, client):
        response = client.post(reverse("framework:preview"), intake_form())
        assert response.status_code == 302
        assert reverse("login") in response["Location"]

    def test_the_preview_is_post_only(self, client, alice):
        client.force_login(alice)
        assert client.get(reverse("framework:preview")).status_code == 405


@pytest.mark.django_db
class TestPolicyPage:
    def settings_form(self, **overrides):  # type: ignore[no-untyped-def]
        data = dict(Policy.objects.current().data)
        data.update(overrides)
        return {key: value for key, value in data.items() if value is not None}

    def test_platform_saves_a_new_version_and_keeps_the_old(
        self, client, catalogue, dave
    ):
        client.force_login(dave)
        form = self.settings_form(volume_high=80_000, note="seed update")
        response = client.post(reverse("framework:policy"), form)
        assert response.status_code == 302
        assert Policy.objects.count() == 2
        assert Policy.objects.current().data["volume_high"] == 80_000
        page = client.get(reverse("framework:policy")).content.decode()
        assert "v2" in page and "volume_high" in page and "80000" in page

    def test_the_engine_validates_the_policy(self, client, policy, dave):
        client.force_login(dave)
        form = self.settings_form(volume_low=90_000, volume_high=50_000)
        response = client.post(reverse("framework:policy"), form)
        assert response.status_code == 200
        assert "Must not exceed volume_high." in response.content.decode()
        assert Policy.objects.count() == 1

    def test_the_board_reads_the_policy_but_cannot_change_it(self, client, policy, bob):
        client.force_login(bob)
        assert client.get(reverse("framework:policy")).status_code == 200
        response = client.post(reverse("framework:policy"), self.settings_form())
        assert response.status_code == 403
        assert Policy.objects.count() == 1

    def test_a_requester_cannot_see_the_policy_page(self, client, policy, alice):
        client.force_login(alice)
        assert client.get(reverse("framework:policy")).status_code == 403
