"""Celery tasks: the beat tick's fan-out, one poll per endpoint, and drift flagging.

Tasks take ids, call one service and return; the services make them idempotent
(upserts keyed by endpoint, series and bucket; counter state under a row lock).
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from apps.endpoints import services


@shared_task(name="apps.endpoints.tasks.collect_due_endpoints", ignore_result=True)
def collect_due_endpoints() -> int:
    """Claim every due endpoint and enqueue one poll task for each."""
    ids = services.claim_due_endpoints()
    for endpoint_id in ids:
        collect_endpoint_usage.delay(endpoint_id)
    return len(ids)


@shared_task(
    name="apps.endpoints.tasks.collect_endpoint_usage",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,  # bounded in the body, from settings
)
def collect_endpoint_usage(self, endpoint_id: int) -> bool:  # type: ignore[no-untyped-def]
    """Poll one endpoint; retry transient failures with exponential backoff."""
    try:
        return services.collect_endpoint(endpoint_id=endpoint_id).ok
    except services.TransientCollectionError as exc:
        retries = int(getattr(settings, "ENDPOINT_RETRY_MAX", 3))
        if self.request.retries >= retries:
            return False  # recorded as stale/failing; the next tick tries again
        base = float(getattr(settings, "ENDPOINT_RETRY_BACKOFF_SECONDS", 5))
        countdown = min(base * 2**self.request.retries, 300.0)
        if exc.retry_after is not None:
            countdown = max(countdown, min(exc.retry_after, 300.0))
        raise self.retry(countdown=countdown, exc=exc) from None


@shared_task(name="apps.endpoints.tasks.flag_drifted_use_cases", ignore_result=True)
def flag_drifted_use_cases() -> int:
    """Flag use-cases whose live volume crossed their break-even or thresholds."""
    return len(services.flag_drifted_use_cases())
