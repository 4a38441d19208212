"""The board's pages: queue, review page, thread and trail; who sees and does what."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.reviews import services
from apps.reviews.models import Comment, Decision
from apps.usecases.models import UseCase
from apps.usecases.services import transition_use_case
from tests.factories import TeamFactory, UseCaseFactory, UserFactory

from .conftest import record_assessment, submitted

S = UseCase.Status
QUEUE = reverse("reviews:queue")
ROW = re.compile(r'href="/reviews/\d+/"')


def review_url(use_case):  # type: ignore[no-untyped-def]
    return reverse("reviews:review", args=[use_case.pk])


@pytest.mark.django_db
class TestQueue:
    def test_board_sees_submitted_and_in_review_but_not_drafts_or_decided(
        self, client, bob, alice
    ):
        waiting = submitted(alice, title="Waiting one")
        reviewing = submitted(alice, title="Under review")
        transition_use_case(use_case=reviewing, to_status=S.IN_REVIEW, by=bob)
        UseCaseFactory(owner=alice, title="Still a draft")
        client.force_login(bob)
        page = client.get(QUEUE).content.decode()
        assert waiting.title in page and reviewing.title in page
        assert "Still a draft" not in page
        assert 'data-count="submitted">1<' in page
        assert 'data-count="in_review">1<' in page
        assert 'data-count="draft"' not in page

    def test_auditor_reads_the_queue_without_deciding(self, client, erin, waiting):
        client.force_login(erin)
        assert waiting.title in client.get(QUEUE).content.decode()
        page = client.get(review_url(waiting)).content.decode()
        assert "decision-form" not in page and "Start review" not in page

    @pytest.mark.parametrize("role", ["requester", "platform", "procurement"])
    def test_other_roles_cannot_open_the_queue(self, client, cast, role):
        client.force_login(cast[role])
        assert client.get(QUEUE).status_code == 403

    def test_it_filters_by_team_classification_status_and_age(
        self, client, bob, alice, carol
    ):
        old = submitted(alice, title="Old claims one", data_classification="public")
        UseCase.objects.filter(pk=old.pk).update(
            submitted_at=timezone.now() - timedelta(days=10)
        )
        submitted(alice, title="New claims one", data_classification="confidential")
        submitted(carol, title="Health one", data_classification="confidential")
        client.force_login(bob)

        def titles(**params):  # type: ignore[no-untyped-def]
            body = client.get(QUEUE, params, headers={"HX-Request": "true"})
            return {
                t
                for t in ("Old claims one", "New claims one", "Health one")
                if t in body.content.decode()
            }

        assert titles(team=alice.team_id) == {"Old claims one", "New claims one"}
        assert titles(data_classification="confidential") == {
            "New claims one",
            "Health one",
        }
        assert titles(age="7") == {"Old claims one"}
        assert titles(status="in_review") == set()
        assert titles(status="submitted") == {
            "Old claims one",
            "New claims one",
            "Health one",
        }

    def test_empty_filter_values_mean_any(self, client, bob, waiting):
        client.force_login(bob)
        params = {"status": "", "team": "", "data_classification": "", "age": ""}
        body = client.get(QUEUE, params, headers={"HX-Request": "true"})
        assert waiting.title in body.content.decode()

    def test_htmx_gets_only_the_results_fragment(self, client, bob, waiting):
        client.force_login(bob)
        body = client.get(QUEUE, headers={"HX-Request": "true"}).content.decode()
        assert body.lstrip().startswith('<div id="queue-results">')
        assert "<html" not in body and waiting.title in body

    def test_it_sorts_by_volume_both_ways(self, client, bob, alice):
        submitted(alice, title="Small one", requests_per_day=10)
        submitted(alice, title="Big one", requests_per_day=90_000)
        client.force_login(bob)
        up = client.get(QUEUE, {"ordering": "volume"}).content.decode()
        down = client.get(QUEUE, {"ordering": "-volume"}).content.decode()
        assert up.index("Small one") < up.index("Big one")
        assert down.index("Big one") < down.index("Small one")

    def test_every_sort_link_has_an_href_and_an_hx_get(self, client, bob, waiting):
        client.force_login(bob)
        body = client.get(QUEUE).content.decode()
        assert body.count('hx-get="?') == body.count('<th><a href="?') + body.count(
            '<th class="num"><a href="?'
        )
        assert "ordering=cost" in body

    def test_queue_runs_the_same_number_of_queries_for_5_and_50_use_cases(
        self, client, bob
    ):
        team = TeamFactory()

        def add(count):  # type: ignore[no-untyped-def]
            for _ in range(count):
                owner = UserFactory(role="requester", team=team)
                use_case = submitted(
                    owner, workloads=[("classification", 60), ("reasoning", 40)]
                )
                record_assessment(use_case)

        client.force_login(bob)
        add(5)
        with CaptureQueriesContext(connection) as five:
            assert len(ROW.findall(client.get(QUEUE).content.decode())) == 5
        add(45)
        with CaptureQueriesContext(connection) as fifty:
            assert len(ROW.findall(client.get(QUEUE).content.decode())) == 50
        assert len(five) == len(fifty) <= 13  # 12, and the bell's unread count


@pytest.mark.django_db
class TestReviewPage:
    def test_board_sees_the_request_and_the_decision_form(self, client, bob, waiting):
        client.force_login(bob)
        page = client.get(review_url(waiting)).content.decode()
        assert waiting.description in page
        assert 'id="decision-form"' in page and "Start review" in page
        assert "No evidence attached yet" in page

    def test_requester_cannot_see_other_teams_restricted_review(
        self, client, alice, carol
    ):
        secret = submitted(carol, data_classification="restricted")
        client.force_login(alice)
        for name in ("review", "thread", "timeline"):
            url = reverse(f"reviews:{name}", args=[secret.pk])
            assert client.get(url).status_code == 404

    def test_board_starts_a_review(self, client, bob, waiting):
        client.force_login(bob)
        response = client.post(reverse("reviews:start", args=[waiting.pk]))
        assert response.status_code == 302
        waiting.refresh_from_db()
        assert waiting.status == S.IN_REVIEW

    def test_board_decides_through_the_form(self, client, bob, waiting):
        client.force_login(bob)
        response = client.post(
            reverse("reviews:decide", args=[waiting.pk]),
            {
                "outcome": "approved",
                "pattern": "open_source_managed",
                "chosen_models": "Llama 3.1 8B Instruct\n\nQwen2.5 7B Instruct",
                "conditions": "re-review at 50,000 requests a day\nfine-tune before launch",
                "comment": "Go ahead.",
            },
        )
        assert response.status_code == 302
        decision = Decision.objects.get()
        assert decision.chosen_models == [
            "Llama 3.1 8B Instruct",
            "Qwen2.5 7B Instruct",
        ]
        assert decision.conditions == [
            "re-review at 50,000 requests a day",
            "fine-tune before launch",
        ]
        waiting.refresh_from_db()
        assert waiting.status == S.APPROVED
        page = client.get(review_url(waiting)).content.decode()
        assert "fine-tune before launch" in page and 'id="decision-form"' not in page

    def test_overruling_without_a_reason_shows_a_field_error(
        self, client, bob, waiting, recommend
    ):
        recommend(waiting, "open_source_self_hosted")
        client.force_login(bob)
        response = client.post(
            reverse("reviews:decide", args=[waiting.pk]),
            {"outcome": "approved", "pattern": "proprietary_api"},
        )
        assert response.status_code == 400
        assert (
            "give the reason"
            in response.context["decision_form"].errors["overrule_reason"][0]
        )
        waiting.refresh_from_db()
        assert waiting.status == S.SUBMITTED

    @pytest.mark.parametrize("role", ["requester", "auditor", "platform"])
    def test_only_board_can_post_a_decision(self, client, cast, waiting, role):
        client.force_login(cast[role])
        response = client.post(
            reverse("reviews:decide", args=[waiting.pk]),
            {"outcome": "approved", "pattern": "proprietary_api"},
        )
        assert response.status_code == 403
        assert not Decision.objects.exists()

    def test_playground_runs_attached_to_the_use_case_are_evidence(
        self, client, bob, alice, waiting
    ):
        from apps.playground.models import PlaygroundRun

        for prompt in ("Classify this claim", "Route this one"):
            PlaygroundRun.objects.create(
                owner=alice,
                prompt=prompt,
                data_classification="internal",
                may_leave_infrastructure=True,
                use_case=waiting,
            )
        client.force_login(bob)
        page = client.get(review_url(waiting)).content.decode()
        assert "Classify this claim" in page and "Route this one" in page
        assert "No evidence attached yet" not in page

    def test_review_page_runs_the_same_number_of_queries_for_5_and_50_comments(
        self, client, bob, alice, waiting
    ):
        def add(count):  # type: ignore[no-untyped-def]
            for i in range(count):
                Comment.objects.create(
                    use_case=waiting, author=alice if i % 2 else bob, body=f"Note {i}"
                )
                Decision.objects.create(
                    use_case=waiting,
                    outcome="changes_requested",
                    comment=f"Fix {i}",
                    decided_by=bob,
                )
                record_assessment(waiting, monthly_cost=100 + i)

        client.force_login(bob)
        add(5)
        with CaptureQueriesContext(connection) as five:
            assert client.get(review_url(waiting)).content.decode().count("Note ") >= 5
        add(45)
        with CaptureQueriesContext(connection) as fifty:
            assert client.get(review_url(waiting)).content.decode().count("Note ") >= 50
        assert len(five) == len(fifty) <= 22  # 2 for the reviewer and the board


@pytest.mark.django_db
class TestThread:
    def test_comment_by_htmx_returns_the_thread_newest_last(self, client, bob, waiting):
        client.force_login(bob)
        url = reverse("reviews:thread", args=[waiting.pk])
        client.post(url, {"body": "First"}, headers={"HX-Request": "true"})
        body = client.post(
            url, {"body": "Second"}, headers={"HX-Request": "true"}
        ).content.decode()
        assert body.lstrip().startswith('<div id="review-thread">')
        assert body.index("First") < body.index("Second")

    def test_owner_answers_but_cannot_write_internal_notes(
        self, client, alice, waiting
    ):
        client.force_login(alice)
        url = reverse("reviews:thread", args=[waiting.pk])
        assert client.post(url, {"body": "Here you go"}).status_code == 302
        assert client.post(url, {"body": "Sneaky", "internal": "on"}).status_code == 403
        assert list(Comment.objects.values_list("body", "internal")) == [
            ("Here you go", False)
        ]

    def test_other_requester_who_can_read_cannot_comment(self, client, carol, waiting):
        client.force_login(carol)
        url = reverse("reviews:thread", args=[waiting.pk])
        assert client.get(url).status_code == 200
        assert client.post(url, {"body": "Drive-by"}).status_code == 403

    def test_requester_cannot_see_internal_notes(
        self, client, alice, bob, erin, waiting
    ):
        services.add_comment(use_case=waiting, by=bob, body="Public remark")
        services.add_comment(
            use_case=waiting, by=bob, body="Board-only worry", internal=True
        )
        for name in ("thread", "timeline", "review"):
            url = reverse(f"reviews:{name}", args=[waiting.pk])
            client.force_login(alice)
            as_owner = client.get(url).content.decode()
            assert "Public remark" in as_owner and "Board-only worry" not in as_owner
            client.force_login(erin)
            assert "Board-only worry" in client.get(url).content.decode()


@pytest.mark.django_db
class TestDetailPagePanels:
    def test_use_case_page_loads_the_review_and_trail_panels(
        self, client, alice, waiting
    ):
        client.force_login(alice)
        page = client.get(
            reverse("usecases:detail", args=[waiting.pk])
        ).content.decode()
        assert reverse("reviews:thread", args=[waiting.pk]) in page
        assert reverse("reviews:timeline", args=[waiting.pk]) in page

    def test_timeline_shows_field_changes_transitions_and_workloads(
        self, client, alice, bob
    ):
        from apps.usecases.services import save_use_case

        use_case = UseCaseFactory(owner=alice, title="Before")
        transition_use_case(use_case=use_case, to_status=S.SUBMITTED, by=alice)
        services.start_review(use_case=use_case, by=bob)
        services.decide_use_case(
            use_case=use_case,
            by=bob,
            outcome="changes_requested",
            comment="More detail",
        )
        save_use_case(
            fields={"title": "After", "requests_per_day": 30_000},
            workloads=[{"task_type": "extraction", "share": 100, "notes": ""}],
            by=alice,
            use_case=use_case,
        )
        client.force_login(bob)
        body = client.get(
            reverse("reviews:timeline", args=[use_case.pk]),
            headers={"HX-Request": "true"},
        ).content.decode()
        assert "Title: Before → After" in body
        assert "Requests per day: 20,000 → 30,000" in body
        assert "100% classification → 100% extraction" in body
        assert "Changes requested (from in review)" in body
        assert "More detail" in body


@pytest.mark.django_db
class TestLiveAndRetired:
    @pytest.fixture
    def approved(self, alice, bob):  # type: ignore[no-untyped-def]
        use_case = submitted(alice)
        services.decide_use_case(
            use_case=use_case, by=bob, outcome="approved", pattern="proprietary_api"
        )
        return use_case

    @pytest.mark.parametrize("who", ["alice", "dave"])
    def test_owner_or_platform_marks_approved_live_then_retires(
        self, client, request, approved, who
    ):
        client.force_login(request.getfixturevalue(who))
        url = reverse("usecases:detail", args=[approved.pk])
        page = client.get(url).content.decode()
        assert "Mark live" in page and "Retire" in page
        move = reverse("usecases:transition", args=[approved.pk])
        client.post(move, {"to_status": "live"})
        approved.refresh_from_db()
        assert approved.status == S.LIVE
        client.post(move, {"to_status": "retired"})
        approved.refresh_from_db()
        assert approved.status == S.RETIRED

    def test_approved_can_be_retired_without_going_live(self, client, alice, approved):
        client.force_login(alice)
        client.post(
            reverse("usecases:transition", args=[approved.pk]), {"to_status": "retired"}
        )
        approved.refresh_from_db()
        assert approved.status == S.RETIRED

    def test_board_cannot_mark_live(self, client, bob, approved):
        client.force_login(bob)
        page = client.get(
            reverse("usecases:detail", args=[approved.pk])
        ).content.decode()
        assert "Mark live" not in page
        client.post(
            reverse("usecases:transition", args=[approved.pk]), {"to_status": "live"}
        )
        approved.refresh_from_db()
        assert approved.status == S.APPROVED
