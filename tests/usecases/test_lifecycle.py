"""The lifecycle state machine: every legal move works, every other one is refused."""

from itertools import product

import pytest

from apps.usecases import lifecycle, services
from apps.usecases.models import Transition, UseCase
from tests.factories import UseCaseFactory

S = UseCase.Status
ALL_PAIRS = list(product(S.values, S.values))
# The lifecycle of DESIGN.md §2, written out here rather than read from the code
# under test: (from, to) -> who may make the move ("owner": the use-case's own).
WHO_MAY = {
    ("draft", "submitted"): {"owner"},
    ("changes_requested", "submitted"): {"owner"},
    ("submitted", "in_review"): {"board"},
    ("in_review", "approved"): {"board"},
    ("in_review", "rejected"): {"board"},
    ("in_review", "changes_requested"): {"board"},
    ("approved", "live"): {"owner", "platform"},
    ("approved", "retired"): {"owner", "platform"},
    ("live", "retired"): {"owner", "platform"},
}
# Who makes each legal move in these tests (the fixture cast's names).
LEGAL_MOVES = {
    pair: "board" if who == {"board"} else "requester" for pair, who in WHO_MAY.items()
}
LEGAL = list(LEGAL_MOVES)
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in LEGAL_MOVES]


def test_the_lifecycle_has_exactly_the_documented_moves_and_actors():
    assert {
        pair: {str(who) for who in allowed}
        for pair, allowed in lifecycle.TRANSITIONS.items()
    } == WHO_MAY


def actor_for(pair, cast):  # type: ignore[no-untyped-def]
    return cast[LEGAL_MOVES[pair]]


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), LEGAL)
def test_every_legal_transition_moves_and_is_recorded(cast, from_status, to_status):
    """A legal move by an allowed actor changes the status and records who and why."""
    use_case = UseCaseFactory(owner=cast["requester"], status=from_status)
    actor = actor_for((from_status, to_status), cast)

    if to_status in lifecycle.DECISION_OUTCOMES:  # the decision service's path
        record = services.record_decision_outcome(
            use_case=use_case, outcome=to_status, by=actor, comment="  because  "
        )
    else:
        record = services.transition_use_case(
            use_case=use_case, to_status=to_status, by=actor, comment="  because  "
        )

    use_case.refresh_from_db()
    assert use_case.status == to_status
    assert (record.from_status, record.to_status) == (from_status, to_status)
    assert record.actor == actor
    assert record.comment == "because"
    assert list(use_case.transitions.all()) == [record]


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), ILLEGAL)
def test_every_illegal_transition_is_refused_with_a_message(
    root, from_status, to_status
):
    """Even a superuser cannot make a move the lifecycle does not have."""
    use_case = UseCaseFactory(status=from_status)

    with pytest.raises(lifecycle.TransitionError, match="cannot move"):
        services.transition_use_case(use_case=use_case, to_status=to_status, by=root)

    use_case.refresh_from_db()
    assert use_case.status == from_status
    assert not Transition.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status"), LEGAL)
def test_a_legal_move_by_the_wrong_role_is_forbidden(cast, from_status, to_status):
    """procurement and auditors never move use-cases; requesters never review."""
    use_case = UseCaseFactory(owner=cast["requester"], status=from_status)
    for username in ("procurement", "auditor", "other_requester"):
        with pytest.raises(lifecycle.TransitionForbidden):
            services.transition_use_case(
                use_case=use_case, to_status=to_status, by=cast[username]
            )
    assert use_case.transitions.count() == 0


@pytest.mark.django_db
def test_requester_cannot_approve_own_use_case(alice):
    use_case = UseCaseFactory(owner=alice, status=S.IN_REVIEW)
    with pytest.raises(lifecycle.TransitionForbidden):
        services.transition_use_case(use_case=use_case, to_status=S.APPROVED, by=alice)


@pytest.mark.django_db
def test_it_refuses_to_submit_when_shares_do_not_sum_to_100(alice):
    use_case = UseCaseFactory(owner=alice, workloads=[("classification", 60)])
    with pytest.raises(lifecycle.TransitionError, match="add up to 60%"):
        services.submit_use_case(use_case=use_case, by=alice)


@pytest.mark.django_db
def test_submitting_stamps_submitted_at_and_keeps_history(alice):
    use_case = UseCaseFactory(owner=alice)
    services.submit_use_case(use_case=use_case, by=alice)
    use_case.refresh_from_db()
    assert use_case.submitted_at is not None
    assert use_case.history.first().history_change_reason == "draft → submitted"


@pytest.mark.django_db
def test_changes_requested_goes_back_to_editing_and_resubmits(alice, bob):
    use_case = UseCaseFactory(owner=alice, status=S.IN_REVIEW)
    services.record_decision_outcome(
        use_case=use_case, outcome=S.CHANGES_REQUESTED, by=bob
    )
    assert use_case.can_edit(alice)
    services.submit_use_case(use_case=use_case, by=alice)
    assert use_case.status == S.SUBMITTED
    assert not use_case.can_edit(alice)


@pytest.mark.django_db
def test_transitions_are_append_only(alice):
    use_case = UseCaseFactory(owner=alice)
    record = services.submit_use_case(use_case=use_case, by=alice)
    record.comment = "rewritten"
    with pytest.raises(PermissionError):
        record.save()
    with pytest.raises(PermissionError):
        record.delete()
