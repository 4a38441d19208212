"""Turning events into inbox items and deliveries, and making each delivery.

:func:`record_event` runs once an emitting transaction has committed. It works
out who the event concerns (named people and role audiences, never the actor),
keeps those who may see its object, writes their inbox items, and writes one
:class:`Delivery` per matching subscription, then enqueues those on commit.
Unique keys make it idempotent: an event emitted twice adds nothing.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.accounts.models import User
from apps.core.events import Event, EventKind
from apps.core.http import UnsafeURL, check_url
from apps.usecases.models import UseCase

from . import channels
from .models import Delivery, Notification, Subscription

logger = logging.getLogger(__name__)


def recipients_for(event: Event, *, use_case: UseCase | None) -> list[User]:
    """Active people the event names or addresses by role, who may see its object."""
    audience = Q(pk__in=list(event.user_ids))
    if event.roles:
        # A superuser holds every role (User.roles) without being in the groups.
        audience |= Q(groups__name__in=list(event.roles)) | Q(is_superuser=True)
    people = (
        User.objects.filter(audience, is_active=True)
        .exclude(pk=event.actor_id)
        .distinct()
        .order_by("pk")
    )
    if use_case is None:
        return list(people)
    # The one access rule for use-cases, asked per person.
    return [
        person
        for person in people
        if UseCase.objects.visible_to(person).filter(pk=use_case.pk).exists()
    ]


def event_payload(event: Event) -> dict[str, Any]:
    """The event as JSON a channel sends: absolute link, label, plain context."""
    url = (
        settings.PORTAL_BASE_URL.rstrip("/") + event.url
        if event.url.startswith("/")
        else event.url
    )
    return {
        "kind": event.kind,
        "kind_label": _label(event.kind),
        "key": event.key,
        "title": event.title,
        "body": event.body,
        "url": url,
        "use_case_id": event.use_case_id,
        "team_id": event.team_id,
        "occurred_at": timezone.now().isoformat(),
        "context": json.loads(json.dumps(event.context, default=str)),
    }


def _label(kind: str) -> str:
    try:
        return str(EventKind(kind).label)
    except ValueError:  # a kind added elsewhere and not (yet) in the enum
        return kind.replace("_", " ").capitalize()


def record_event(*, event: Event) -> tuple[int, list[int]]:
    """Write inbox items and deliveries for ``event``; enqueue the deliveries.

    Returns the number of inbox items and the ids of new deliveries.
    """
    use_case = (
        UseCase.objects.filter(pk=event.use_case_id).only("pk", "team_id").first()
        if event.use_case_id
        else None
    )
    if event.use_case_id and use_case is None:
        return 0, []  # its object is gone: nobody can open it
    team_id = event.team_id or (use_case.team_id if use_case else None)
    people = recipients_for(event, use_case=use_case)
    now = timezone.now()
    items = [
        Notification(
            user=person,
            kind=event.kind[:40],
            key=event.key[:200],
            title=event.title[:300],
            body=event.body,
            url=event.url[:500],
            use_case=use_case,
            created_at=now,
        )
        for person in people
    ]
    subscriptions = Subscription.objects.matching(event, team_id=team_id)
    payload = event_payload(event)
    with transaction.atomic():
        Notification.objects.bulk_create(items, ignore_conflicts=True)
        known = set(
            Delivery.objects.filter(
                subscription__in=subscriptions, event_key=event.key[:200]
            ).values_list("subscription_id", flat=True)
        )
        fresh = [
            Delivery(
                subscription=subscription,
                event_key=event.key[:200],
                key=uuid.uuid4().hex,
                kind=event.kind[:40],
                title=event.title[:300],
                payload=payload,
                created_at=now,
            )
            for subscription in subscriptions
            if subscription.pk not in known
        ]
        Delivery.objects.bulk_create(fresh, ignore_conflicts=True)
        # ignore_conflicts leaves pks unset: read back the rows this call made.
        ids = list(
            Delivery.objects.filter(key__in=[d.key for d in fresh]).values_list(
                "pk", flat=True
            )
        )
        if ids:
            transaction.on_commit(lambda: _enqueue(ids))
    return len(items), ids


def _enqueue(ids: list[int]) -> None:
    from .tasks import deliver_notification

    for delivery_id in ids:
        deliver_notification.delay(delivery_id)


class DeliveryBusy(Exception):
    """Another attempt holds the delivery until ``until``."""

    def __init__(self, until: datetime | None) -> None:
        super().__init__("The delivery is being sent by another attempt.")
        self.until = until


def claim_delivery(*, delivery_id: int) -> Delivery | None:
    """Take the delivery for one attempt (a conditional UPDATE), or None.

    Sent and failed deliveries are never taken again; one being sent is taken
    over only when its lease ran out (a worker died mid-send).
    """
    now = timezone.now()
    lease = now + timedelta(seconds=float(settings.NOTIFY_TIMEOUT_SECONDS) * 3)
    taken = (
        Delivery.objects.filter(pk=delivery_id)
        .filter(
            Q(status__in=[Delivery.Status.PENDING, Delivery.Status.RETRYING])
            | Q(status=Delivery.Status.SENDING, sending_until__lt=now)
        )
        .update(
            status=Delivery.Status.SENDING,
            sending_until=lease,
            attempts=F("attempts") + 1,
        )
    )
    if not taken:
        return None
    return Delivery.objects.select_related("subscription").get(pk=delivery_id)


def deliver(*, delivery_id: int, final_attempt: bool) -> Delivery | None:
    """Make one attempt at a delivery; None when there was nothing to do.

    Raises :class:`channels.DeliveryError` for a transient failure that is to be
    retried (the row says ``retrying`` and why); a permanent failure, or a
    transient one on the final attempt, is recorded as ``failed``.
    """
    delivery = claim_delivery(delivery_id=delivery_id)
    if delivery is None:
        held = Delivery.objects.filter(
            pk=delivery_id, status=Delivery.Status.SENDING
        ).values_list("sending_until", flat=True)
        if held:  # another attempt holds it: look again once its claim lapses
            raise DeliveryBusy(held[0])
        return None
    if not delivery.subscription.enabled:
        return _finish(delivery, Delivery.Status.FAILED, "The subscription is off.")
    try:
        channels.send(delivery)
    except channels.DeliveryError as exc:
        if exc.transient and not final_attempt:
            _finish(delivery, Delivery.Status.RETRYING, exc.message)
            raise
        return _finish(delivery, Delivery.Status.FAILED, exc.message)
    return _finish(delivery, Delivery.Status.SENT, "")


def _finish(delivery: Delivery, status: str, error: str) -> Delivery:
    delivery.status = status
    delivery.last_error = error[:2000] if error else delivery.last_error
    delivery.sending_until = None
    fields = ["status", "last_error", "sending_until"]
    if status == Delivery.Status.SENT:
        delivery.sent_at = timezone.now()
        fields.append("sent_at")
    Delivery.objects.filter(pk=delivery.pk).update(
        **{name: getattr(delivery, name) for name in fields}
    )
    return delivery


def mark_read(*, user: User, notification_id: int | None = None) -> int:
    """Mark one of the user's items read, or all of them (``notification_id`` None)."""
    items = Notification.objects.for_user(user).unread()
    if notification_id is not None:
        items = items.filter(pk=notification_id)
    return Notification.objects.filter(pk__in=items.values("pk")).update(
        read_at=timezone.now()
    )


def save_subscription(
    *,
    subscription: Subscription | None,
    fields: dict[str, Any],
    target: str | None,
    secret: str | None,
    by: User | None,
) -> Subscription:
    """Create or change a subscription; ``target``/``secret`` None keep the stored one.

    Callers validate first (forms and serializers run :func:`target_problem`).
    """
    if subscription is None:
        subscription = Subscription(created_by=by)
    for name, value in fields.items():
        setattr(subscription, name, value)
    if target:
        subscription.set_target(target)
    if secret:
        subscription.set_secret(secret)
    subscription.save()
    return subscription


def target_problem(*, channel: str, target: str) -> str | None:
    """Why ``target`` may not be used for ``channel``, or None."""
    if channel == Subscription.Channel.EMAIL:
        addresses = [a.strip() for a in target.split(",") if a.strip()]
        if not addresses:
            return "Give at least one e-mail address."
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                return f"“{address}” is not an e-mail address."
        return None
    if not target.lower().startswith("https://") and not target.lower().startswith(
        "http://"
    ):
        return "Give the webhook's http:// or https:// URL."
    try:
        check_url(target, allowed_networks=settings.NOTIFY_ALLOWED_NETWORKS)
    except UnsafeURL as exc:
        return exc.message
    return None
