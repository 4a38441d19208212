"""Drift: a use-case's live volume against its assessment, flagged once per crossing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from apps.core.events import Event, EventKind, emit
from apps.endpoints.models import DailyUsage, DriftFlag
from apps.framework.models import Assessment, Policy
from apps.usecases.models import AuditEvent, UseCase


@dataclass(frozen=True, slots=True)
class Threshold:
    """What a use-case's live volume is compared with."""

    basis: str  # "break_even" or "policy"
    values: tuple[float, ...]

    def band(self, volume: float) -> int:
        return sum(volume >= value for value in self.values)

    def describe(self, crossed: float) -> str:
        if self.basis == "break_even":
            return f"the assessment's break-even of {crossed:,.0f} requests a day"
        which = "lower" if crossed == self.values[0] else "upper"
        return f"the policy's {which} volume threshold of {crossed:,.0f} requests a day"


def threshold_for(use_case: UseCase) -> Threshold:
    """The latest assessment's break-even, else the policy's volume thresholds."""
    break_even = _latest_break_even(use_case)
    if break_even:
        return Threshold("break_even", (float(break_even),))
    low, high = _policy_volume_thresholds()
    return Threshold("policy", (low, high))


def _policy_volume_thresholds() -> tuple[float, float]:
    policy = Policy.objects.current().engine_policy()
    return float(policy.volume_low), float(policy.volume_high)


def _latest_break_even(use_case: UseCase) -> float | None:
    value = (
        Assessment.objects.filter(use_case=use_case)
        .order_by("-created_at", "-pk")
        .values_list("break_even_requests_per_day", flat=True)
        .first()
    )
    return float(value) if value is not None else None


def actual_requests_per_day(
    *, use_case_ids: Iterable[int], today: date
) -> dict[int, float]:
    """7-day average of live requests a day, over the seven full days before today."""
    start = today - timedelta(days=7)
    rows = (
        DailyUsage.objects.filter(
            use_case_id__in=list(use_case_ids), date__gte=start, date__lt=today
        )
        .values("use_case_id")
        .annotate(total=Sum("requests"))
        .order_by()
    )
    return {row["use_case_id"]: row["total"] / 7 for row in rows}


def flag_drifted_use_cases(*, now: datetime | None = None) -> list[DriftFlag]:
    """Flag use-cases whose live volume sits across a threshold from their estimate.

    A crossing is flagged once (a :class:`DriftFlag` per crossing): the hourly run
    does not flag, audit and email the same crossing again.
    """
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    use_case_ids = (
        DailyUsage.objects.filter(
            use_case__isnull=False, date__gte=today - timedelta(days=7), date__lt=today
        )
        .values_list("use_case_id", flat=True)
        .distinct()
    )
    actuals = actual_requests_per_day(use_case_ids=set(use_case_ids), today=today)
    flags = []
    for use_case in UseCase.objects.filter(pk__in=actuals).select_related("owner"):
        flag = _flag_if_crossed(use_case, actuals[use_case.pk], now)
        if flag is not None:
            flags.append(flag)
    return flags


def _flag_if_crossed(
    use_case: UseCase, actual: float, now: datetime
) -> DriftFlag | None:
    threshold = threshold_for(use_case)
    estimate = float(use_case.requests_per_day)
    actual_band, estimate_band = threshold.band(actual), threshold.band(estimate)
    if actual_band == estimate_band:
        return None
    key = f"{threshold.basis}:{':'.join(f'{v:.0f}' for v in threshold.values)}:{estimate_band}->{actual_band}"
    # The farthest threshold crossed, in the direction of the crossing.
    up = actual_band > estimate_band
    crossed = threshold.values[actual_band - 1 if up else actual_band]
    direction = "above" if up else "below"
    reason = (
        f"Live volume averages {actual:,.0f} requests a day over the last 7 days, "
        f"{direction} {threshold.describe(crossed)}; the estimate was "
        f"{estimate:,.0f} a day."
    )
    with transaction.atomic():
        flag, created = DriftFlag.objects.get_or_create(
            use_case=use_case,
            key=key,
            defaults={
                "actual_requests_per_day": actual,
                "threshold": crossed,
                "basis": threshold.basis,
            },
        )
        if not created:
            return None
        use_case.reassessment_flagged_at = now
        use_case.reassessment_reason = reason
        use_case.save(update_fields=["reassessment_flagged_at", "reassessment_reason"])
        AuditEvent.record(
            kind="usage.reassessment_flagged",
            summary=reason,
            use_case=use_case,
            data={
                "actual_requests_per_day": round(actual, 1),
                "threshold": crossed,
                "basis": threshold.basis,
                "estimated_requests_per_day": estimate,
            },
        )
        transaction.on_commit(lambda: _notify_drift(use_case, reason))
        emit(
            Event(
                kind=EventKind.DRIFT_FLAGGED,
                key=f"drift:{flag.pk}",
                title=f"Re-assess {use_case.title}: live volume crossed a threshold",
                body=reason,
                url=use_case.get_absolute_url(),
                use_case_id=use_case.pk,
                team_id=use_case.team_id,
                user_ids=(use_case.owner_id,),
                roles=("board",),
                context={
                    "actual_requests_per_day": round(actual, 1),
                    "threshold": crossed,
                    "basis": threshold.basis,
                },
            )
        )
    return flag


def _notify_drift(use_case: UseCase, reason: str) -> None:
    from apps.accounts.models import User

    board = list(
        User.objects.filter(groups__name="board", is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    recipients = sorted(
        {*board, *([use_case.owner.email] if use_case.owner.email else [])}
    )
    if not recipients:
        return
    url = settings.PORTAL_BASE_URL.rstrip("/") + use_case.get_absolute_url()
    send_mail(
        subject=f"Re-assess {use_case.title}: live volume crossed a threshold",
        message=f"{reason}\n\nThe use-case is flagged for re-assessment: {url}\n",
        from_email=None,
        recipient_list=recipients,
        fail_silently=True,
    )
