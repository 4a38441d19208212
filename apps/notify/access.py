"""Who may do what with notifications: one helper per object type."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import Http404
from django.shortcuts import get_object_or_404

from apps.accounts.roles import Role

from .models import Notification, Subscription

if TYPE_CHECKING:
    from apps.accounts.models import User


def can_manage_subscriptions(user: User) -> bool:
    """Platform (and superusers) manage channels, subscriptions and the log."""
    return user.is_authenticated and user.has_role(Role.PLATFORM)


def get_notification_for(user: User, pk: int) -> Notification:
    """One of the user's own inbox items (404 for anyone else's)."""
    return get_object_or_404(Notification.objects.for_user(user), pk=pk)


def get_subscription_for(user: User, pk: int) -> Subscription:
    if not can_manage_subscriptions(user):
        raise Http404
    return get_object_or_404(Subscription, pk=pk)
