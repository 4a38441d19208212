from __future__ import annotations

from functools import cache

from django.http import HttpRequest

from .models import Notification


def unread_notifications(request: HttpRequest) -> dict[str, object]:
    """The bell's unread count: one COUNT query, made only if a template asks."""
    user = getattr(request, "user", None)

    @cache
    def count() -> int:
        if user is None or not user.is_authenticated:
            return 0
        return Notification.objects.for_user(user).unread().count()

    return {"unread_notifications": count}
