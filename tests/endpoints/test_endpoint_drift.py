"""Live volume crossing the break-even or the policy thresholds flags a re-assessment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.endpoints import services, tasks
from apps.endpoints.models import DailyUsage
from apps.framework.models import Assessment, Policy
from apps.usecases.models import AuditEvent
from tests.factories import ServingEndpointFactory, UseCaseFactory, UserFactory

# "Today" is read here and again in the service: keep both on the same day.
pytestmark = pytest.mark.usefixtures("midday")


def live(use_case, per_day: int) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory()
    today = timezone.now().date()
    for n in range(1, 8):
        DailyUsage.objects.create(
            date=today - timedelta(days=n),
            endpoint=endpoint,
            use_case=use_case,
            requests=per_day,
        )
    DailyUsage.objects.create(
        date=today, endpoint=endpoint, use_case=use_case, requests=10**9
    )


def test_it_flags_volume_below_the_policy_threshold_with_both_numbers(
    db, alice, bob, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    use_case = UseCaseFactory(owner=alice, requests_per_day=60_000)
    live(use_case, 42_000)  # today's partial day is not in the average
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.flag_drifted_use_cases() == 1
    use_case.refresh_from_db()
    assert use_case.reassessment_flagged_at is not None
    assert "42,000" in use_case.reassessment_reason
    assert "50,000" in use_case.reassessment_reason
    assert "60,000" in use_case.reassessment_reason
    event = AuditEvent.objects.get(kind="usage.reassessment_flagged", use_case=use_case)
    assert event.data["actual_requests_per_day"] == 42_000
    assert event.data["threshold"] == 50_000
    assert len(mail.outbox) == 1
    assert set(mail.outbox[0].to) == {alice.email, bob.email}
    assert "42,000" in mail.outbox[0].body and "50,000" in mail.outbox[0].body


def test_the_same_crossing_is_not_flagged_every_hour(
    db, alice, bob, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    use_case = UseCaseFactory(owner=alice, requests_per_day=5_000)
    live(use_case, 12_000)
    with django_capture_on_commit_callbacks(execute=True):
        services.flag_drifted_use_cases()
        services.flag_drifted_use_cases()
        services.flag_drifted_use_cases()
    assert len(mail.outbox) == 1
    assert AuditEvent.objects.filter(kind="usage.reassessment_flagged").count() == 1


def test_volume_on_the_estimates_side_is_not_flagged(
    db, alice, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    use_case = UseCaseFactory(owner=alice, requests_per_day=20_000)
    live(use_case, 35_000)  # both between 10,000 and 50,000
    with django_capture_on_commit_callbacks(execute=True):
        assert services.flag_drifted_use_cases() == []
    use_case.refresh_from_db()
    assert use_case.reassessment_flagged_at is None
    assert mail.outbox == []


def test_the_assessment_break_even_replaces_the_policy_thresholds(db, alice) -> None:  # type: ignore[no-untyped-def]
    UserFactory(username="board2", role="board")
    use_case = UseCaseFactory(owner=alice, requests_per_day=20_000)
    Assessment.objects.create(
        use_case=use_case,
        trigger="submit",
        inputs={},
        policy_version=Policy.objects.current(),
        price_snapshot="test",
        outcome="proprietary_api",
        result={},
        monthly_cost=1000,
        break_even_requests_per_day=30_000,
        fingerprint="test",
    )
    live(use_case, 31_000)
    flags = services.flag_drifted_use_cases()
    assert [f.basis for f in flags] == ["break_even"]
    use_case.refresh_from_db()
    assert "break-even of 30,000" in use_case.reassessment_reason
    assert "31,000" in use_case.reassessment_reason
