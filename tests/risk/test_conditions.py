"""Conditions of an approval as tasks: owners, due dates, go-live, overdue once."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from apps.reviews import conditions
from apps.reviews import services as review_services
from apps.reviews.models import Condition, Decision
from apps.usecases import lifecycle
from apps.usecases.models import UseCase
from apps.usecases.services import submit_use_case, transition_use_case
from tests.factories import UseCaseFactory

S = UseCase.Status
TODAY = datetime.date(2026, 12, 1)


@pytest.fixture
def waiting(alice, bob):  # type: ignore[no-untyped-def]
    use_case = UseCaseFactory(owner=alice, requests_per_day=500)
    submit_use_case(use_case=use_case, by=alice)
    return use_case


def approve(use_case, by, conditions):  # type: ignore[no-untyped-def]
    return review_services.decide_use_case(
        use_case=use_case,
        by=by,
        outcome="approved",
        pattern="proprietary_api",
        overrule_reason="Test.",
        conditions=conditions,
    )


@pytest.mark.django_db
def test_each_condition_becomes_a_task_and_the_api_field_keeps_the_texts(
    waiting, alice, bob, dave
):
    decision = approve(
        waiting,
        bob,
        [
            "Red-team the prompts | 2026-12-15 | before go-live | @dave",
            {"text": "Re-review at 50,000 a day", "due_date": "2027-06-30"},
        ],
    )
    assert decision.conditions == [
        "Red-team the prompts",
        "Re-review at 50,000 a day",
    ]
    tasks = list(Condition.objects.order_by("pk"))
    assert [(t.owner, t.due_date, t.before_go_live, t.status) for t in tasks] == [
        (dave, datetime.date(2026, 12, 15), True, "open"),
        (alice, datetime.date(2027, 6, 30), False, "open"),
    ]


@pytest.mark.django_db
def test_an_unreadable_condition_is_a_field_error_and_nothing_is_recorded(waiting, bob):
    with pytest.raises(ValidationError) as refused:
        approve(waiting, bob, ["Red-team | next week", "Audit | @nobody"])
    assert len(refused.value.message_dict["conditions"]) == 2
    assert not Decision.objects.exists()
    assert not Condition.objects.exists()
    waiting.refresh_from_db()
    assert waiting.status == S.SUBMITTED


@pytest.mark.django_db
def test_an_open_pre_go_live_condition_blocks_going_live(waiting, alice, bob):
    approve(waiting, bob, ["Red-team the prompts | before go-live"])
    task = Condition.objects.get()
    with pytest.raises(lifecycle.TransitionError, match="Red-team the prompts"):
        transition_use_case(use_case=waiting, to_status=S.LIVE, by=alice)
    waiting.refresh_from_db()
    assert waiting.status == S.APPROVED
    conditions.resolve_condition(
        condition=task, by=alice, status="done", evidence="Report RT-9."
    )
    transition_use_case(use_case=waiting, to_status=S.LIVE, by=alice)
    waiting.refresh_from_db()
    assert waiting.status == S.LIVE


@pytest.mark.django_db
def test_a_later_condition_does_not_block_going_live(waiting, alice, bob):
    approve(waiting, bob, ["Re-review in six months | 2027-06-01"])
    transition_use_case(use_case=waiting, to_status=S.LIVE, by=alice)
    waiting.refresh_from_db()
    assert waiting.status == S.LIVE


@pytest.mark.django_db
def test_only_the_board_waives_and_done_needs_evidence(waiting, alice, bob, carol):
    approve(waiting, bob, ["Red-team the prompts"])
    task = Condition.objects.get()
    with pytest.raises(PermissionError):
        conditions.resolve_condition(
            condition=task, by=carol, status="done", evidence="x"
        )
    with pytest.raises(ValidationError) as refused:
        conditions.resolve_condition(condition=task, by=alice, status="waived")
    assert set(refused.value.message_dict) == {"status", "evidence"}
    task.refresh_from_db()
    assert task.status == "open"
    conditions.resolve_condition(
        condition=task, by=bob, status="waived", evidence="Superseded."
    )
    task.refresh_from_db()
    assert (task.status, task.resolved_by) == ("waived", bob)


@pytest.mark.django_db
def test_overdue_conditions_are_marked_and_notified_once(
    waiting, alice, bob, events, django_capture_on_commit_callbacks
):
    approve(
        waiting,
        bob,
        ["Late one | 2026-11-30", "Due today | 2026-12-01", "Undated"],
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = conditions.mark_overdue_conditions(today=TODAY)
    with django_capture_on_commit_callbacks(execute=True):
        second = conditions.mark_overdue_conditions(today=TODAY)
    late = Condition.objects.get(text="Late one")
    assert first == [late.pk]
    assert second == []
    assert list(Condition.objects.order_by("pk").values_list("status", flat=True)) == [
        "overdue",
        "open",
        "open",
    ]
    overdue = [e for e in events if e.kind == "condition_overdue"]
    assert len(overdue) == 1
    assert overdue[0].user_ids == (alice.pk,)
    assert overdue[0].roles == ("board",)
