"""Celery tasks: the beat tick's fan-out, one poll per endpoint, drift and pruning.

Tasks take ids, call one service and return; the services make them idempotent
(upserts keyed by endpoint, series and bucket; counter state under a row lock;
a poll stores only while it holds its endpoint's claim).
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections

from apps.endpoints import services

logger = logging.getLogger(__name__)

#: Database errors a retry on a fresh connection may fix (restart, killed backend).
RETRIED_DB_ERRORS = (OperationalError, InterfaceError)


@shared_task(name="apps.endpoints.tasks.collect_due_endpoints", ignore_result=True)
def collect_due_endpoints() -> int:
    """Claim every due endpoint and enqueue one poll task for each."""
    claims = services.claim_due_endpoints()
    for endpoint_id, claim in claims.items():
        collect_endpoint_usage.delay(endpoint_id, claim)
    return len(claims)


@shared_task(
    name="apps.endpoints.tasks.collect_endpoint_usage",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=None,  # bounded in the body, from settings
    soft_time_limit=settings.ENDPOINT_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.ENDPOINT_TASK_TIME_LIMIT,
)
def collect_endpoint_usage(self, endpoint_id: int, claim: str | None = None) -> bool:  # type: ignore[no-untyped-def]
    """Poll one endpoint; retry transient and database failures with backoff.

    A retry first renews the claim; once another poll took the endpoint over
    (the lease ran out, or someone polled it by hand), it stops.
    """
    retries = int(settings.ENDPOINT_RETRY_MAX)
    try:
        if (
            claim is not None
            and self.request.retries
            and not services.renew_claim(endpoint_id=endpoint_id, claim=claim)
        ):
            return False
        return services.collect_endpoint(endpoint_id=endpoint_id, claim=claim).ok
    except services.TransientCollectionError as exc:
        if self.request.retries >= retries:
            return False  # recorded as stale/failing; the next tick tries again
        raise self.retry(countdown=_backoff(self, exc.retry_after), exc=exc) from None
    except RETRIED_DB_ERRORS as exc:
        # The connection is gone (database restarted, backend killed): a fresh
        # one next time. The claim lapses after its lease if every retry fails.
        close_old_connections()
        logger.warning("Poll of endpoint %s hit a database error: %s", endpoint_id, exc)
        if self.request.retries >= retries:
            return False
        raise self.retry(countdown=_backoff(self, None), exc=exc) from None
    except SoftTimeLimitExceeded:
        if claim is not None:
            services.release_claim(
                endpoint_id=endpoint_id,
                claim=claim,
                message="The poll ran past its time limit and was stopped.",
            )
        return False


def _backoff(task, retry_after: float | None) -> float:  # type: ignore[no-untyped-def]
    base = float(settings.ENDPOINT_RETRY_BACKOFF_SECONDS)
    countdown = min(base * 2**task.request.retries, 300.0)
    if retry_after is not None:
        countdown = max(countdown, min(retry_after, 300.0))
    return countdown


@shared_task(name="apps.endpoints.tasks.flag_drifted_use_cases", ignore_result=True)
def flag_drifted_use_cases() -> int:
    """Flag use-cases whose live volume crossed their break-even or thresholds."""
    return len(services.flag_drifted_use_cases())


@shared_task(name="apps.endpoints.tasks.prune_usage_samples", ignore_result=True)
def prune_usage_samples() -> int:
    """Delete raw samples past the retention period (daily rollups stay)."""
    return services.prune_usage_samples()
