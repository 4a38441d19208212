"""The portal's notices flow through events into inboxes and subscribed channels:
review moves and mentions, drift flags, budgets, failing endpoints and gateway
refusal spikes."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from apps.core.events import EventKind
from apps.endpoints import services as endpoint_services
from apps.endpoints.models import DailyUsage
from apps.endpoints.services.collection import Fetched, record_failure
from apps.gateway import metering
from apps.notify.models import Delivery, Notification
from apps.portfolio.models import Budget
from apps.portfolio.services import record_budget_alerts
from apps.reviews import services as reviews
from apps.usecases.models import UseCase
from apps.usecases.services import transition_use_case
from tests.factories import ServingEndpointFactory, UseCaseFactory, UserFactory
from tests.notify.conftest import subscribe

pytestmark = pytest.mark.django_db

S = UseCase.Status


def inbox(user) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return list(
        Notification.objects.filter(user=user)
        .order_by("pk")
        .values_list("kind", "title")
    )


class TestReviews:
    def test_a_submission_reaches_the_board_and_the_boards_channel_not_the_actor(
        self, alice, bob, health, django_capture_on_commit_callbacks, enqueued
    ):
        board_channel = subscribe(
            channel="email", target="board@example.com", role="board"
        )
        other_team = subscribe(channel="email", target="h@example.com", team=health)
        use_case = UseCaseFactory(owner=alice, title="Claims triage")
        with django_capture_on_commit_callbacks(execute=True):
            transition_use_case(use_case=use_case, to_status=S.SUBMITTED, by=alice)
        assert inbox(bob) == [
            (EventKind.USE_CASE_SUBMITTED, "Submitted for review: Claims triage")
        ]
        assert inbox(alice) == []
        assert Delivery.objects.filter(subscription=board_channel).count() == 1
        assert not Delivery.objects.filter(subscription=other_team).exists()
        assert len(enqueued) == 1
        # The personal e-mail to the board is still sent, as before.
        assert [m.to for m in mail.outbox] == [["bob@example.com"]]

    def test_a_decision_and_requested_changes_reach_the_owner(
        self, alice, bob, django_capture_on_commit_callbacks
    ):
        approved = UseCaseFactory(owner=alice, title="A")
        changes = UseCaseFactory(owner=alice, title="B")
        for use_case in (approved, changes):
            transition_use_case(use_case=use_case, to_status=S.SUBMITTED, by=alice)
        with django_capture_on_commit_callbacks(execute=True):
            reviews.decide_use_case(
                use_case=approved, by=bob, outcome="approved", pattern="hybrid"
            )
            reviews.decide_use_case(
                use_case=changes, by=bob, outcome="changes_requested", comment="Why?"
            )
        assert inbox(alice) == [
            (EventKind.DECIDED, "Approved: A"),
            (EventKind.CHANGES_REQUESTED, "Changes requested: B"),
        ]

    def test_a_mention_in_an_internal_note_reaches_only_internal_readers(
        self, alice, bob, django_capture_on_commit_callbacks
    ):
        bea = UserFactory(username="bea", role="board")
        use_case = UseCaseFactory(owner=alice, title="Claims triage")
        transition_use_case(use_case=use_case, to_status=S.SUBMITTED, by=alice)
        with django_capture_on_commit_callbacks(execute=True):
            reviews.add_comment(
                use_case=use_case,
                by=bob,
                body="@alice @bea the volumes look inflated",
                internal=True,
            )
        assert inbox(alice) == []
        [item] = Notification.objects.filter(user=bea)
        assert item.kind == EventKind.MENTIONED
        assert "inflated" not in item.body  # channels may carry it further


def live(use_case: UseCase, per_day: int) -> None:
    endpoint = ServingEndpointFactory()
    today = timezone.now().date()
    for n in range(1, 8):
        DailyUsage.objects.create(
            date=today - timedelta(days=n),
            endpoint=endpoint,
            use_case=use_case,
            requests=per_day,
        )


def test_a_drift_flag_reaches_the_owner_and_the_board_once(
    alice, bob, django_capture_on_commit_callbacks
):
    use_case = UseCaseFactory(owner=alice, requests_per_day=60_000)
    live(use_case, 1_000)
    with django_capture_on_commit_callbacks(execute=True):
        endpoint_services.flag_drifted_use_cases()
        endpoint_services.flag_drifted_use_cases()
    for person in (alice, bob):
        [(kind, title)] = inbox(person)
        assert kind == EventKind.DRIFT_FLAGGED and use_case.title in title


TODAY = date(2025, 3, 20)


def spend(team, use_case, per_day: str) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory()
    day = date(2025, 3, 1)
    while day <= TODAY:
        DailyUsage.objects.create(
            date=day,
            endpoint=endpoint,
            use_case=use_case,
            team=team,
            requests=1,
            cost=Decimal(per_day),
        )
        day += timedelta(days=1)


def test_budget_forecast_over_and_hard_budget_reached_reach_platform_and_owner(
    alice, dave, claims, django_capture_on_commit_callbacks
):
    use_case = UseCaseFactory(owner=alice, title="Claims triage", status="live")
    spend(claims, use_case, "10")  # $200 by the 20th; forecast $310
    Budget.objects.create(use_case=use_case, monthly_amount=Decimal("300"))
    Budget.objects.create(
        team=claims, monthly_amount=Decimal("150"), enforcement="hard"
    )
    with django_capture_on_commit_callbacks(execute=True):
        record_budget_alerts(today=TODAY)
        record_budget_alerts(today=TODAY)  # hourly: nobody hears it twice
    kinds = sorted(kind for kind, _ in inbox(dave))
    assert kinds == sorted(
        [
            EventKind.BUDGET_FORECAST_OVER,  # the use-case's budget
            EventKind.BUDGET_FORECAST_OVER,  # the team's
            EventKind.BUDGET_HARD_REACHED,  # the team's, enforced
        ]
    )
    assert [kind for kind, _ in inbox(alice)] == [EventKind.BUDGET_FORECAST_OVER]


def test_an_endpoint_turning_failing_reaches_platform_once_per_failing_run(
    dave, bob, django_capture_on_commit_callbacks
):
    endpoint = ServingEndpointFactory(name="vllm-8b")
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(5):
            record_failure(Fetched(endpoint.pk, timezone.now(), message="refused"))
    assert inbox(dave) == [(EventKind.ENDPOINT_FAILING, "Endpoint vllm-8b is failing")]
    assert inbox(bob) == []
    item = Notification.objects.get(user=dave)
    assert item.url == endpoint.get_absolute_url()


def test_gateway_refusals_spiking_reach_platform_and_the_owner(
    alice, dave, settings, django_capture_on_commit_callbacks
):
    settings.NOTIFY_REFUSAL_SPIKE_PER_MINUTE = 5
    busy = UseCaseFactory(owner=alice, title="Busy")
    quiet = UseCaseFactory(owner=alice, title="Quiet")
    minute = int(timezone.now().timestamp() // 60) - 1
    # What metering.refused() counts (without starting the spool's flusher).
    metering._refusals.clear()
    metering._refusals[(None, busy.pk, "budget_exceeded", "over", minute)] = 3
    metering._refusals[(7, busy.pk, "rate_limit", "slow", minute)] = 2
    metering._refusals[(None, quiet.pk, "rate_limit", "slow", minute)] = 4
    try:
        with django_capture_on_commit_callbacks(execute=True):
            metering._audit_refusals(all_minutes=False)
    finally:
        metering._refusals.clear()
    for person in (alice, dave):
        assert inbox(person) == [
            (EventKind.GATEWAY_REFUSALS_SPIKING, "Gateway refusals spiking: Busy")
        ]
