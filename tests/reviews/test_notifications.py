"""Emails: submissions to the board, decisions and requested changes to the owner,
mentions to the mentioned; all built in apps.reviews.notifications, sent on commit."""

import pytest
from django.core import mail

from apps.reviews import services
from apps.usecases.models import UseCase
from apps.usecases.services import transition_use_case
from tests.factories import UseCaseFactory, UserFactory

S = UseCase.Status


@pytest.fixture
def board_members(bob):  # type: ignore[no-untyped-def]
    return [bob, UserFactory(username="bea", role="board")]


@pytest.mark.django_db
class TestTransitions:
    def test_submission_emails_every_board_member_with_a_link(
        self, alice, board_members, settings, django_capture_on_commit_callbacks
    ):
        settings.PORTAL_BASE_URL = "https://portal.example.org"
        use_case = UseCaseFactory(owner=alice, title="Claims triage")
        with django_capture_on_commit_callbacks(execute=True):
            transition_use_case(use_case=use_case, to_status=S.SUBMITTED, by=alice)
        assert sorted(m.to[0] for m in mail.outbox) == [
            "bea@example.com",
            "bob@example.com",
        ]
        message = mail.outbox[0]
        assert "Claims triage" in message.subject
        assert f"https://portal.example.org/reviews/{use_case.pk}/" in message.body

    def test_nothing_is_sent_before_the_transaction_commits(
        self, alice, board_members, django_capture_on_commit_callbacks
    ):
        use_case = UseCaseFactory(owner=alice)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            transition_use_case(use_case=use_case, to_status=S.SUBMITTED, by=alice)
        assert mail.outbox == [] and len(callbacks) >= 1

    def test_decision_emails_the_owner_with_pattern_and_conditions(
        self, alice, bob, django_capture_on_commit_callbacks
    ):
        use_case = UseCaseFactory(owner=alice, title="Claims triage")
        transition_use_case(use_case=use_case, to_status=S.SUBMITTED, by=alice)
        with django_capture_on_commit_callbacks(execute=True):
            services.decide_use_case(
                use_case=use_case,
                by=bob,
                outcome="approved",
                pattern="hybrid",
                conditions=["re-review at 50,000 requests a day"],
            )
        assert [m.to for m in mail.outbox] == [["alice@example.com"]]
        body = mail.outbox[0].body
        assert mail.outbox[0].subject == "[AI Portal] Approved: Claims triage"
        assert "Hybrid" in body and "re-review at 50,000 requests a day" in body
        assert f"/use-cases/{use_case.pk}/" in body

    def test_requested_changes_email_the_owner_with_the_message(
        self, alice, bob, board_members, django_capture_on_commit_callbacks
    ):
        use_case = UseCaseFactory(owner=alice)
        transition_use_case(use_case=use_case, to_status=S.SUBMITTED, by=alice)
        with django_capture_on_commit_callbacks(execute=True):
            services.decide_use_case(
                use_case=use_case,
                by=bob,
                outcome="changes_requested",
                comment="Describe the data retention.",
            )
        assert [m.to for m in mail.outbox] == [["alice@example.com"]]
        assert "Changes requested" in mail.outbox[0].subject
        assert "Describe the data retention." in mail.outbox[0].body
        assert "submit it again" in mail.outbox[0].body

    def test_rejection_emails_the_owner_only(
        self, alice, bob, board_members, django_capture_on_commit_callbacks
    ):
        use_case = UseCaseFactory(owner=alice)
        transition_use_case(use_case=use_case, to_status=S.SUBMITTED, by=alice)
        with django_capture_on_commit_callbacks(execute=True):
            services.decide_use_case(
                use_case=use_case, by=bob, outcome="rejected", comment="No."
            )
        assert [m.to for m in mail.outbox] == [["alice@example.com"]]
        assert "Rejected" in mail.outbox[0].subject

    def test_starting_a_review_sends_nothing(
        self, alice, bob, django_capture_on_commit_callbacks
    ):
        use_case = UseCaseFactory(owner=alice)
        transition_use_case(use_case=use_case, to_status=S.SUBMITTED, by=alice)
        with django_capture_on_commit_callbacks(execute=True):
            services.start_review(use_case=use_case, by=bob)
        assert mail.outbox == []


@pytest.mark.django_db
class TestMentions:
    @pytest.fixture
    def use_case(self, alice):  # type: ignore[no-untyped-def]
        use_case = UseCaseFactory(owner=alice)
        transition_use_case(use_case=use_case, to_status=S.SUBMITTED, by=alice)
        return use_case

    def test_mentioning_the_owner_emails_them(
        self, use_case, bob, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            services.add_comment(
                use_case=use_case, by=bob, body="@alice can you add the volumes?"
            )
        assert [m.to for m in mail.outbox] == [["alice@example.com"]]
        assert "can you add the volumes?" in mail.outbox[0].body

    def test_an_internal_note_never_reaches_the_requester(
        self, use_case, bob, django_capture_on_commit_callbacks
    ):
        colleague = UserFactory(username="bea", role="board")
        with django_capture_on_commit_callbacks(execute=True):
            services.add_comment(
                use_case=use_case,
                by=bob,
                body="@alice @bea the volumes look inflated",
                internal=True,
            )
        assert [m.to for m in mail.outbox] == [[colleague.email]]

    def test_people_who_cannot_see_the_use_case_are_not_told(
        self, alice, carol, bob, django_capture_on_commit_callbacks
    ):
        secret = UseCaseFactory(owner=alice, data_classification="restricted")
        transition_use_case(use_case=secret, to_status=S.SUBMITTED, by=alice)
        with django_capture_on_commit_callbacks(execute=True):
            services.add_comment(use_case=secret, by=bob, body="@carol @alice see this")
        assert [m.to for m in mail.outbox] == [["alice@example.com"]]

    def test_unknown_names_and_emails_are_not_mentions(
        self, use_case, bob, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            services.add_comment(
                use_case=use_case, by=bob, body="Mail x@alice.example or @nobody"
            )
        assert mail.outbox == []
