"""Changes to what the path to the first token caches drop it in every process."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from apps.accounts.models import User
from apps.catalogue.models import CatalogModel
from apps.endpoints.models import ServingEndpoint
from apps.framework.models import Policy

from . import snapshot

#: What the playground reads of an endpoint; polls save other fields often.
ENDPOINT_FIELDS = {
    "name",
    "kind",
    "base_url",
    "location",
    "api_key_encrypted",
    "chat_capable",
    "served_models",
    "hourly_cost",
    "input_usd_per_mtok",
    "output_usd_per_mtok",
}


def _invalidate(**_: Any) -> None:
    # At once (this process, and tests inside a transaction) and again after the
    # commit, so no process keeps what it read between the two.
    snapshot.invalidate()
    transaction.on_commit(snapshot.invalidate)


def _endpoint_saved(update_fields: Any = None, **kwargs: Any) -> None:
    if update_fields is None or ENDPOINT_FIELDS & set(update_fields):
        _invalidate()


def _user_saved(created: bool = False, update_fields: Any = None, **_: Any) -> None:
    # Signing in writes last_login only: roles and status are unchanged.
    if created or update_fields is None or set(update_fields) - {"last_login"}:
        _invalidate()


post_save.connect(
    _endpoint_saved, sender=ServingEndpoint, dispatch_uid="playground-endpoint"
)
post_save.connect(_user_saved, sender=User, dispatch_uid="playground-user")
m2m_changed.connect(
    _invalidate, sender=User.groups.through, dispatch_uid="playground-user-groups"
)
for model in (CatalogModel, Group, Policy):
    post_save.connect(
        _invalidate, sender=model, dispatch_uid=f"playground-{model.__name__}"
    )
for model in (ServingEndpoint, CatalogModel, Group, Policy, User):
    post_delete.connect(
        _invalidate, sender=model, dispatch_uid=f"playground-del-{model.__name__}"
    )
