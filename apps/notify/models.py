"""Inbox items, subscriptions of channels to events, and each delivery made."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import Team
from apps.accounts.roles import Role
from apps.core import crypto
from apps.core.events import EventKind
from apps.usecases.models import UseCase

if TYPE_CHECKING:
    from apps.accounts.models import User
    from apps.core.events import Event


class NotificationQuerySet(models.QuerySet["Notification"]):
    def for_user(self, user: User) -> NotificationQuerySet:
        """The user's own items about objects they may (still) see.

        Checked again at read time, not only when the item was made: a person
        who left the team no longer reads about its confidential use-cases.
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        mine = self.filter(user=user)
        if user.reads_everything:
            return mine
        return mine.filter(
            Q(use_case__isnull=True)
            | Q(use_case__in=UseCase.objects.visible_to(user).values("pk"))
        )

    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(models.Model):
    """One item in a person's in-app inbox, made from an event (once per key)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=40, choices=EventKind.choices)
    key = models.CharField(max_length=200)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    use_case = models.ForeignKey(
        UseCase, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "key"], name="notification_once_per_user_and_event"
            )
        ]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class SubscriptionQuerySet(models.QuerySet["Subscription"]):
    def matching(self, event: Event, *, team_id: int | None) -> list[Subscription]:
        """Enabled subscriptions that want ``event`` (``team_id``: its object's team)."""
        return [
            subscription
            for subscription in self.filter(enabled=True)
            if subscription.wants(event, team_id=team_id)
        ]


class Subscription(models.Model):
    """A channel (e-mail, Slack, Teams, a signed webhook) told of chosen events.

    Scoped to a team (events about that team's objects only) or to a role
    (events addressed to that role); a requester channel must name its team, so
    no channel hears of another team's confidential use-case. The target (an
    address, or a webhook URL that carries its token) and the signing secret are
    encrypted at rest and never shown back: ``target_hint`` is what pages show.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        SLACK = "slack", "Slack incoming webhook"
        TEAMS = "teams", "Microsoft Teams (Workflows webhook)"
        WEBHOOK = "webhook", "Signed JSON webhook"

    WEBHOOK_CHANNELS = frozenset({Channel.SLACK, Channel.TEAMS, Channel.WEBHOOK})

    name = models.CharField(max_length=120)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    event_kinds = models.JSONField(
        default=list, blank=True, help_text="Event kinds to deliver; empty = all."
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    target_encrypted = models.TextField()
    target_hint = models.CharField(max_length=200, blank=True)
    secret_encrypted = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        # Never the target or the secret, not even encrypted.
        return f"<Subscription {self.pk} {self.name!r} {self.channel}>"

    def wants(self, event: Event, *, team_id: int | None) -> bool:
        if self.event_kinds and event.kind not in self.event_kinds:
            return False
        if self.team_id is not None and self.team_id != team_id:
            return False
        return not self.role or self.role in event.roles

    @property
    def target(self) -> str:
        return crypto.decrypt(self.target_encrypted)

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.secret_encrypted) if self.secret_encrypted else ""

    def set_target(self, value: str) -> None:
        self.target_encrypted = crypto.encrypt(value)
        self.target_hint = hint_for(self.channel, value)

    def set_secret(self, value: str) -> None:
        self.secret_encrypted = crypto.encrypt(value) if value else ""

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_encrypted)


def hint_for(channel: str, target: str) -> str:
    """What may be shown of a target: addresses in full, only the host of a URL."""
    if channel == Subscription.Channel.EMAIL:
        return target
    return urlsplit(target).hostname or ""


class DeliveryQuerySet(models.QuerySet["Delivery"]):
    def for_log(self) -> DeliveryQuerySet:
        return self.select_related("subscription")


class Delivery(models.Model):
    """One event sent (or being sent) to one subscription: the delivery log.

    Unique per (subscription, event key): however often an event is emitted or
    a task retried, a subscription is sent it once. ``key`` is sent along as the
    idempotency key, the same on every attempt.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        RETRYING = "retrying", "Retrying"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_key = models.CharField(max_length=200)
    key = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=40, choices=EventKind.choices)
    title = models.CharField(max_length=300)
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sending_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event_key"],
                name="delivery_once_per_subscription_and_event",
            )
        ]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.title} → {self.subscription_id}"
