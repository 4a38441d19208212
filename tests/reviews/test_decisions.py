"""Deciding: only the board, with field errors, moving the state in one go."""

import pytest
from django.core.exceptions import ValidationError

from apps.reviews import services
from apps.reviews.models import Decision
from apps.reviews.timeline import build_timeline
from apps.usecases import lifecycle
from apps.usecases.models import UseCase

S = UseCase.Status


def decide(use_case, by, **fields):  # type: ignore[no-untyped-def]
    fields.setdefault("outcome", "approved")
    fields.setdefault("pattern", "proprietary_api")
    return services.decide_use_case(use_case=use_case, by=by, **fields)


@pytest.mark.django_db
class TestWhoDecides:
    @pytest.mark.parametrize(
        "role", ["requester", "platform", "procurement", "auditor"]
    )
    def test_only_board_can_decide(self, cast, waiting, role):
        with pytest.raises(lifecycle.TransitionForbidden):
            decide(waiting, cast[role])
        waiting.refresh_from_db()
        assert waiting.status == S.SUBMITTED
        assert not Decision.objects.exists()

    def test_board_decision_moves_submitted_through_review_to_approved(
        self, bob, waiting
    ):
        decision = decide(
            waiting,
            bob,
            chosen_models=["GPT-4o mini", " "],
            conditions=["re-review at 50,000 requests a day", ""],
        )
        waiting.refresh_from_db()
        assert waiting.status == S.APPROVED
        moves = list(waiting.transitions.values_list("from_status", "to_status"))
        assert moves[-2:] == [(S.SUBMITTED, S.IN_REVIEW), (S.IN_REVIEW, S.APPROVED)]
        assert decision.transition == waiting.transitions.last()
        assert decision.chosen_models == ["GPT-4o mini"]
        assert decision.conditions == ["re-review at 50,000 requests a day"]

    @pytest.mark.parametrize("outcome", [S.APPROVED, S.REJECTED, S.CHANGES_REQUESTED])
    def test_decision_in_review_lands_on_its_outcome(self, bob, waiting, outcome):
        services.start_review(use_case=waiting, by=bob)
        decide(waiting, bob, outcome=outcome, comment="Because.")
        waiting.refresh_from_db()
        assert waiting.status == outcome
        assert waiting.transitions.last().comment == "Because."

    def test_decision_is_in_the_timeline(self, bob, waiting):
        decide(waiting, bob, conditions=["fine-tune before launch"])
        entries = build_timeline(use_case=waiting, user=bob)
        decisions = [e for e in entries if e.kind == "decision"]
        assert len(decisions) == 1
        assert decisions[0].actor == bob
        assert "Condition: fine-tune before launch" in decisions[0].details
        kinds = [e.kind for e in entries]
        assert kinds.index("decision") > kinds.index("transition")

    def test_a_draft_cannot_be_decided(self, bob, alice):
        from tests.factories import UseCaseFactory

        draft = UseCaseFactory(owner=alice)
        with pytest.raises(lifecycle.TransitionError):
            decide(draft, bob)
        assert not Decision.objects.exists()
        draft.refresh_from_db()
        assert draft.status == S.DRAFT


@pytest.mark.django_db
class TestFieldErrors:
    def test_approving_without_a_pattern_is_a_field_error(self, bob, waiting):
        with pytest.raises(ValidationError) as exc:
            decide(waiting, bob, pattern="")
        assert "pattern" in exc.value.message_dict
        waiting.refresh_from_db()
        assert waiting.status == S.SUBMITTED

    def test_overruling_the_recommendation_without_a_reason_is_a_field_error(
        self, bob, waiting, recommend
    ):
        recommend(waiting, "open_source_self_hosted")
        with pytest.raises(ValidationError) as exc:
            decide(waiting, bob, pattern="proprietary_api")
        assert list(exc.value.message_dict) == ["overrule_reason"]
        waiting.refresh_from_db()
        assert (
            waiting.status == S.SUBMITTED
            and not waiting.transitions.filter(to_status=S.IN_REVIEW).exists()
        )

    def test_overruling_with_a_reason_is_recorded(self, bob, waiting, recommend):
        recommend(waiting, "open_source_self_hosted")
        decision = decide(
            waiting, bob, pattern="proprietary_api", overrule_reason="Speed to market."
        )
        assert decision.recommended_pattern == "open_source_self_hosted"
        assert decision.overrules

    def test_following_the_recommendation_needs_no_reason(
        self, bob, waiting, recommend
    ):
        recommend(waiting, "proprietary_api")
        decision = decide(waiting, bob, pattern="proprietary_api")
        assert not decision.overrules

    def test_requesting_changes_needs_a_message(self, bob, waiting):
        with pytest.raises(ValidationError) as exc:
            decide(waiting, bob, outcome=S.CHANGES_REQUESTED, pattern="")
        assert "comment" in exc.value.message_dict
