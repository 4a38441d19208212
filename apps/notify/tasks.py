"""Celery task: one delivery attempt, retried with exponential backoff."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import services
from .channels import DeliveryError


@shared_task(
    name="apps.notify.tasks.deliver_notification",
    bind=True,
    acks_late=True,
    ignore_result=True,
    max_retries=None,  # bounded in the body, from settings
)
def deliver_notification(self, delivery_id: int) -> bool:  # type: ignore[no-untyped-def]
    """Send one delivery; retry transient failures (5xx, 429, timeouts) with backoff.

    The delivery row is claimed per attempt, so a retried or redelivered task
    never sends a delivery that has already arrived.
    """
    retries = int(settings.NOTIFY_RETRY_MAX)
    try:
        delivery = services.deliver(
            delivery_id=delivery_id, final_attempt=self.request.retries >= retries
        )
    except DeliveryError as exc:
        base = float(settings.NOTIFY_RETRY_BACKOFF_SECONDS)
        countdown = base * (2**self.request.retries)
        raise self.retry(countdown=countdown, exc=exc) from None
    except services.DeliveryBusy as exc:
        # A redelivered message while an attempt (perhaps a dead one) holds the
        # row: come back when its claim lapses, without counting a retry.
        wait = (exc.until - timezone.now()).total_seconds() if exc.until else 0
        raise self.retry(
            countdown=max(wait, 0) + 1, exc=exc, max_retries=None
        ) from None
    return delivery is not None and delivery.status == delivery.Status.SENT
