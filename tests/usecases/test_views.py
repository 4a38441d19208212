"""The use-case pages: who sees what, the intake form, and lists that scale."""

import pytest
from django.urls import reverse

from apps.usecases.models import UseCase
from tests.factories import UseCaseFactory, UserFactory

S = UseCase.Status


def form_data(**overrides):  # type: ignore[no-untyped-def]
    data = {
        "title": "Invoice extraction",
        "description": "Pulls totals and due dates out of supplier invoices.",
        "data_classification": "confidential",
        "special_categories": ["financial"],
        "requests_per_day": "12000",
        "avg_input_tokens": "1500",
        "avg_output_tokens": "200",
        "peak_factor": "2",
        "capability_need": "standard",
        "context_tokens": "8000",
        "mlops_readiness": "limited",
        "horizon": "production",
        "workloads-TOTAL_FORMS": "2",
        "workloads-INITIAL_FORMS": "0",
        "workloads-MIN_NUM_FORMS": "0",
        "workloads-MAX_NUM_FORMS": "10",
        "workloads-0-task_type": "extraction",
        "workloads-0-share": "80",
        "workloads-1-task_type": "summarisation",
        "workloads-1-share": "20",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
class TestVisibility:
    def test_requester_cannot_see_other_teams_restricted_use_case(
        self, client, alice, carol
    ):
        secret = UseCaseFactory(
            owner=carol, data_classification="restricted", status=S.SUBMITTED
        )
        client.force_login(alice)
        assert (
            client.get(reverse("usecases:detail", args=[secret.pk])).status_code == 404
        )
        assert secret.title not in client.get(reverse("usecases:list")).content.decode()

    def test_requester_cannot_see_other_teams_confidential_use_case(
        self, client, alice, carol
    ):
        secret = UseCaseFactory(
            owner=carol, data_classification="confidential", status=S.LIVE
        )
        client.force_login(alice)
        assert (
            client.get(reverse("usecases:detail", args=[secret.pk])).status_code == 404
        )

    def test_requester_sees_other_teams_submitted_internal_use_case(
        self, client, alice, carol
    ):
        shared = UseCaseFactory(
            owner=carol, data_classification="internal", status=S.SUBMITTED
        )
        client.force_login(alice)
        assert (
            client.get(reverse("usecases:detail", args=[shared.pk])).status_code == 200
        )

    def test_requester_cannot_see_other_teams_draft(self, client, alice, carol):
        draft = UseCaseFactory(owner=carol, data_classification="public")
        client.force_login(alice)
        assert (
            client.get(reverse("usecases:detail", args=[draft.pk])).status_code == 404
        )

    def test_requester_sees_team_mates_restricted_use_case(self, client, alice, claims):
        mate = UserFactory(username="mate", team=claims, role="requester")
        mine = UseCaseFactory(owner=mate, data_classification="restricted")
        client.force_login(alice)
        assert client.get(reverse("usecases:detail", args=[mine.pk])).status_code == 200

    @pytest.mark.parametrize("role", ["board", "platform", "procurement", "auditor"])
    def test_reading_roles_see_every_use_case(self, client, cast, carol, role):
        secret = UseCaseFactory(owner=carol, data_classification="restricted")
        client.force_login(cast[role])
        assert (
            client.get(reverse("usecases:detail", args=[secret.pk])).status_code == 200
        )

    def test_anonymous_is_sent_to_login(self, client):
        response = client.get(reverse("usecases:list"))
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
class TestIntake:
    def test_requester_files_a_draft_with_two_workloads(self, client, alice):
        client.force_login(alice)
        response = client.post(reverse("usecases:create"), form_data(save="1"))
        use_case = UseCase.objects.get()
        assert response.status_code == 302
        assert (use_case.owner, use_case.team, use_case.status) == (
            alice,
            alice.team,
            S.DRAFT,
        )
        assert use_case.special_categories == ["financial"]
        assert [(w.task_type, w.share) for w in use_case.workloads.all()] == [
            ("extraction", 80),
            ("summarisation", 20),
        ]

    def test_save_and_submit_submits(self, client, alice):
        client.force_login(alice)
        client.post(reverse("usecases:create"), form_data(submit="1"))
        assert UseCase.objects.get().status == S.SUBMITTED

    @pytest.mark.parametrize("role", ["board", "platform", "procurement", "auditor"])
    def test_only_requesters_file_use_cases(self, client, cast, role):
        client.force_login(cast[role])
        assert client.get(reverse("usecases:create")).status_code == 403
        assert client.post(reverse("usecases:create"), form_data()).status_code == 403
        assert not UseCase.objects.exists()

    def test_a_bad_value_shows_a_field_error_and_keeps_what_was_typed(
        self, client, alice
    ):
        client.force_login(alice)
        response = client.post(
            reverse("usecases:create"),
            form_data(requests_per_day="-5", title="Keep me"),
        )
        page = response.content.decode()
        assert response.status_code == 200
        assert 'id="err-requests_per_day"' in page
        assert "Ensure this value is greater than or equal to" in page
        assert 'value="Keep me"' in page
        assert not UseCase.objects.exists()

    def test_shares_not_summing_to_100_are_refused(self, client, alice):
        client.force_login(alice)
        response = client.post(
            reverse("usecases:create"), form_data(**{"workloads-1-share": "5"})
        )
        assert "add up to 85%" in response.content.decode()
        assert not UseCase.objects.exists()

    def test_inline_validation_reports_only_filled_fields(self, client, alice):
        client.force_login(alice)
        response = client.post(
            reverse("usecases:validate"),
            {
                "requests_per_day": "abc",
                "title": "",
                "workloads-TOTAL_FORMS": "0",
                "workloads-INITIAL_FORMS": "0",
            },
            HTTP_HX_REQUEST="true",
        )
        page = response.content.decode()
        assert "Enter a whole number." in page
        assert "This field is required" not in page
        assert 'id="err-title" aria-live="polite" hx-swap-oob="true"></div>' in page

    def test_owner_edits_draft_but_not_once_submitted(self, client, alice):
        use_case = UseCaseFactory(owner=alice)
        client.force_login(alice)
        client.post(
            reverse("usecases:edit", args=[use_case.pk]), form_data(title="Renamed")
        )
        use_case.refresh_from_db()
        assert use_case.title == "Renamed"
        use_case.status = S.SUBMITTED
        use_case.save()
        assert (
            client.get(reverse("usecases:edit", args=[use_case.pk])).status_code == 404
        )

    def test_team_mate_cannot_edit_someone_elses_draft(self, client, alice, claims):
        mate = UserFactory(username="mate", team=claims, role="requester")
        use_case = UseCaseFactory(owner=mate)
        client.force_login(alice)
        assert (
            client.get(reverse("usecases:edit", args=[use_case.pk])).status_code == 404
        )

    def test_workload_row_comes_numbered_after_the_others(self, client, alice):
        client.force_login(alice)
        response = client.get(
            reverse("usecases:workload_row"), {"workloads-TOTAL_FORMS": "2"}
        )
        page = response.content.decode()
        assert 'name="workloads-2-task_type"' in page
        assert 'name="workloads-TOTAL_FORMS" value="3"' in page


@pytest.mark.django_db
class TestTransitionsThroughThePage:
    def test_owner_submits_from_the_detail_page(self, client, alice):
        use_case = UseCaseFactory(owner=alice)
        client.force_login(alice)
        client.post(
            reverse("usecases:transition", args=[use_case.pk]),
            {"to_status": "submitted"},
        )
        use_case.refresh_from_db()
        assert use_case.status == S.SUBMITTED

    def test_an_illegal_move_shows_a_message_not_an_error_page(self, client, alice):
        use_case = UseCaseFactory(owner=alice)
        client.force_login(alice)
        response = client.post(
            reverse("usecases:transition", args=[use_case.pk]),
            {"to_status": "live"},
            follow=True,
        )
        assert response.status_code == 200
        assert "cannot move to live" in response.content.decode()

    def test_status_history_shows_who_moved_it(self, client, alice, bob):
        use_case = UseCaseFactory(owner=alice, status=S.SUBMITTED)
        client.force_login(bob)
        client.post(
            reverse("usecases:transition", args=[use_case.pk]),
            {"to_status": "in_review", "comment": "Taking this one"},
        )
        page = client.get(use_case.get_absolute_url()).content.decode()
        assert "“Taking this one”" in page
        assert "bob" in page


@pytest.mark.django_db
@pytest.mark.parametrize("rows", [5, 50])
def test_list_runs_a_constant_number_of_queries(
    client, alice, django_assert_num_queries, rows
):
    for _ in range(rows):
        UseCaseFactory(
            owner=alice, workloads=[("classification", 60), ("reasoning", 40)]
        )
    client.force_login(alice)
    # Session, user, roles, the user's team (scope), the count, the page, workloads,
    # and the unread count of the bell.
    with django_assert_num_queries(8):
        response = client.get(reverse("usecases:list"), {"scope": "mine"})
    assert response.status_code == 200
    assert min(rows, 25) == response.content.decode().count('<td><a href="/use-cases/')


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("role", "landing"),
    [
        ("requester", "/use-cases/?scope=mine"),
        ("board", "/reviews/"),
        ("platform", "/endpoints/"),
        ("procurement", "/portfolio/"),
        ("auditor", "/use-cases/"),
    ],
)
def test_each_role_lands_where_its_work_is(client, cast, role, landing):
    client.force_login(cast[role])
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == landing


@pytest.mark.django_db
def test_the_list_shows_each_use_cases_latest_recommendation(client, alice):
    from apps.framework.models import Assessment, Outcome, Policy

    assessed = UseCaseFactory(owner=alice, title="Assessed one", status=S.SUBMITTED)
    UseCaseFactory(owner=alice, title="Fresh draft")
    for outcome in ("proprietary_api", "hybrid"):  # the newest one counts
        Assessment.objects.create(
            use_case=assessed,
            trigger="submit",
            inputs={},
            policy_version=Policy.objects.current(),
            price_snapshot="test",
            outcome=outcome,
            result={},
            monthly_cost=100,
            fingerprint=outcome,
        )
    client.force_login(alice)
    page = client.get(reverse("usecases:list"), {"scope": "mine"}).content.decode()
    assert f'<span class="badge outcome">{Outcome.HYBRID.label}</span>' in page
    assert Outcome.PROPRIETARY_API.label not in page
    assert "not assessed yet" in page


@pytest.mark.django_db
def test_page_links_keep_the_filters(client, alice):
    for _ in range(30):
        UseCaseFactory(owner=alice)
    client.force_login(alice)
    page = client.get(
        reverse("usecases:list"), {"scope": "mine", "status": "draft"}
    ).content.decode()
    assert "Page 1 of 2 · 30 use-cases" in page
    assert "scope=mine&amp;status=draft&amp;page=2" in page
