"""What accounts tells the apps to its right, and revocation on deactivation.

Accounts sits left of the audit trail (apps/usecases) and the gateway, so it
announces; they listen (apps/usecases/apps.py, apps/gateway/signals.py).

Deactivating a user (``is_active`` turned off by a sign-in that finds no mapped
group, by an admin, or by anything else that saves the user) revokes their API
tokens at once and sends :data:`user_deactivated`, on which the gateway revokes
the keys they issued. ``QuerySet.update(is_active=False)`` sends no signal: save
the user instead.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.dispatch import Signal
from django.utils import timezone

from .models import ApiToken, User

#: An account event for the audit trail. Arguments: kind, summary, actor (a User
#: or None), data (a dict).
account_event = Signal()

#: Sent, inside the transaction that saved it, when an active user is deactivated.
#: Arguments: user.
user_deactivated = Signal()


def _note_previous_state(
    sender: Any, instance: User, update_fields: Any = None, **_: Any
) -> None:
    if instance.pk is None or (
        update_fields is not None and "is_active" not in update_fields
    ):
        instance._was_active = None  # type: ignore[attr-defined]
        return
    instance._was_active = (  # type: ignore[attr-defined]
        User.objects.filter(pk=instance.pk).values_list("is_active", flat=True).first()
    )


def _revoke_when_deactivated(
    sender: Any, instance: User, created: bool, **_: Any
) -> None:
    if created or not getattr(instance, "_was_active", None) or instance.is_active:
        return
    instance._was_active = False  # type: ignore[attr-defined]
    with transaction.atomic():
        revoked = (
            ApiToken.objects.active()
            .filter(user=instance)
            .update(revoked_at=timezone.now())
        )
        user_deactivated.send(sender=User, user=instance)
        account_event.send(
            sender=User,
            kind="accounts.user_deactivated",
            summary=f"Account “{instance.username}” deactivated; "
            f"{revoked} API token(s) revoked.",
            actor=instance,
            data={"username": instance.username, "api_tokens_revoked": revoked},
        )


pre_save.connect(_note_previous_state, sender=User, dispatch_uid="accounts.was_active")
post_save.connect(_revoke_when_deactivated, sender=User, dispatch_uid="accounts.revoke")
