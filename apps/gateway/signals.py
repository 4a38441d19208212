"""Changes that alter how a key's requests are served drop the gateway's caches."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from apps.accounts.signals import user_deactivated
from apps.endpoints.models import ServingEndpoint
from apps.gateway import snapshot
from apps.gateway.keys import key_changed
from apps.gateway.models import GatewayKey, GatewaySettings
from apps.portfolio.models import Budget
from apps.reviews.models import Decision
from apps.usecases.models import UseCase


def _invalidate(**_: Any) -> None:
    transaction.on_commit(snapshot.invalidate)


key_changed.connect(_invalidate, dispatch_uid="gateway-key-changed")
for model in (GatewayKey, GatewaySettings, Budget, Decision, UseCase):
    post_save.connect(
        _invalidate, sender=model, dispatch_uid=f"gateway-{model.__name__}"
    )
    post_delete.connect(
        _invalidate, sender=model, dispatch_uid=f"gateway-del-{model.__name__}"
    )


def _endpoint_changed(
    instance: ServingEndpoint, update_fields: Any = None, **_: Any
) -> None:
    # Polls save their state often; only what routing reads drops the cache.
    routing = {"base_url", "kind", "location", "enabled", "api_key_encrypted", "health"}
    if update_fields is None or routing & set(update_fields):
        transaction.on_commit(snapshot.invalidate)


post_save.connect(
    _endpoint_changed, sender=ServingEndpoint, dispatch_uid="gateway-endpoint"
)


def _revoke_keys_of_deactivated_user(user: Any, **_: Any) -> None:
    # Deactivating a user (apps/accounts/signals.py) stops the keys they issued at once.
    from apps.gateway.keys import revoke_gateway_key

    for key in (
        GatewayKey.objects.active().filter(created_by=user).select_related("use_case")
    ):
        revoke_gateway_key(key=key, by=None)


user_deactivated.connect(
    _revoke_keys_of_deactivated_user, dispatch_uid="gateway-user-deactivated"
)
