"""Issuing, revoking and checking gateway keys.

The secret is returned once by :func:`issue_gateway_key` and never stored: the
database keeps its SHA-256 and its first characters (to tell keys apart). Pages,
the API, the admin and the demo seed all go through these functions, so every
issue and revocation leaves an audit event (which never holds the secret).

Keys belong to the use-case, but deactivating the person who issued them revokes
them at once (apps/gateway/signals.py): someone who left, or lost their access at
the identity provider, leaves no working key behind.

The runtime calls :func:`authenticate_key` and :func:`touch_last_used`; it
listens to :data:`key_changed` to drop a cached key when one is issued or revoked.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.dispatch import Signal
from django.utils import timezone

from apps.usecases.models import AuditEvent, UseCase

from .models import GatewayKey

if TYPE_CHECKING:
    from apps.accounts.models import User

# Statuses whose use-cases may be given new keys (and get traffic).
ISSUABLE_STATUSES = frozenset({UseCase.Status.APPROVED, UseCase.Status.LIVE})
PREFIX_LENGTH = 12
# `last_used_at` is a hint for people, not a meter: one write a minute is enough.
TOUCH_INTERVAL = timedelta(minutes=1)
# A secret is "pgw_" + 43 URL-safe characters; anything far off is not looked up.
_SECRET_MAX_LENGTH = 200

# Sent on commit with ``key_id`` and ``use_case_id`` after an issue or revocation.
key_changed = Signal()

_touched: dict[int, datetime] = {}


class KeyRefused(Exception):
    """The use-case may not be given keys (not approved or live); nothing changed."""


def check_issuable(use_case: UseCase) -> None:
    """Raise :class:`KeyRefused` unless the use-case is approved or live."""
    if use_case.status not in ISSUABLE_STATUSES:
        raise KeyRefused(
            "Keys are issued only for approved or live use-cases; this one is "
            f"{use_case.get_status_display().lower()}. Nothing was created."
        )


def issue_gateway_key(
    *,
    use_case: UseCase,
    name: str,
    by: User | None,
    expires_at: datetime | None = None,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
) -> tuple[GatewayKey, str]:
    """A new key for ``use_case``; returns it with the only copy of its secret.

    Raises :class:`KeyRefused` unless the use-case is approved or live, and
    ``ValidationError`` (keyed by field) for an expiry that is not in the future.
    ``by`` is ``None`` for the command line (the demo seed).
    """
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": ["Give a time in the future."]})
    with transaction.atomic():
        # Re-read under a lock: a decision moving the use-case waits for us.
        current = UseCase.objects.select_for_update().get(pk=use_case.pk)
        check_issuable(current)
        secret = GatewayKey.new_secret()
        key = GatewayKey.objects.create(
            use_case=current,
            name=name,
            prefix=secret[:PREFIX_LENGTH],
            key_hash=GatewayKey.hash_key(secret),
            expires_at=expires_at,
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            created_by=by,
        )
        AuditEvent.record(
            kind="gateway.key_issued",
            summary=f"Gateway key “{name}” ({key.prefix}…) issued",
            actor=by,
            use_case=current,
            data=_audit_data(key),
        )
        _announce(key)
    return key, secret


def revoke_gateway_key(*, key: GatewayKey, by: User | None) -> bool:
    """Revoke ``key`` now; False (and no audit event) when it already was."""
    with transaction.atomic():
        revoked = GatewayKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_by=by
        )
        if not revoked:
            return False
        key.refresh_from_db(fields=["revoked_at", "revoked_by"])
        AuditEvent.record(
            kind="gateway.key_revoked",
            summary=f"Gateway key “{key.name}” ({key.prefix}…) revoked",
            actor=by,
            use_case=key.use_case,
            data=_audit_data(key),
        )
        _announce(key)
    return True


def authenticate_key(secret: str) -> GatewayKey | None:
    """The active key whose secret this is (with its use-case), else None.

    Revoked and expired keys are None; the use-case's status is the caller's to
    check, so that it can say why a request is refused.
    """
    if not _plausible(secret):
        return None
    return (
        GatewayKey.objects.active()
        .select_related("use_case")
        .filter(key_hash=GatewayKey.hash_key(secret))
        .first()
    )


async def aauthenticate_key(secret: str) -> GatewayKey | None:
    """:func:`authenticate_key` for async callers."""
    if not _plausible(secret):
        return None
    return await (
        GatewayKey.objects.active()
        .select_related("use_case")
        .filter(key_hash=GatewayKey.hash_key(secret))
        .afirst()
    )


def touch_last_used(key_id: int, *, now: datetime | None = None) -> bool:
    """Record that the key was used; True when this call wrote.

    At most one query a minute per key and process (a local note of the last
    touch), and at most one write a minute per key across processes (the UPDATE
    only matches a ``last_used_at`` older than a minute).
    """
    now = now or timezone.now()
    if not _due(key_id, now):
        return False
    return bool(_stale(key_id, now).update(last_used_at=now))


async def atouch_last_used(key_id: int, *, now: datetime | None = None) -> bool:
    """:func:`touch_last_used` for async callers."""
    now = now or timezone.now()
    if not _due(key_id, now):
        return False
    return bool(await _stale(key_id, now).aupdate(last_used_at=now))


def _due(key_id: int, now: datetime) -> bool:
    last = _touched.get(key_id)
    if last is not None and timedelta(0) <= now - last < TOUCH_INTERVAL:
        return False
    _touched[key_id] = now
    return True


def _stale(key_id: int, now: datetime) -> models.QuerySet[GatewayKey]:
    return GatewayKey.objects.filter(pk=key_id).filter(
        models.Q(last_used_at__isnull=True)
        | models.Q(last_used_at__lt=now - TOUCH_INTERVAL)
    )


def _plausible(secret: str) -> bool:
    return (
        isinstance(secret, str)
        and secret.startswith(GatewayKey.PREFIX)
        and len(secret) <= _SECRET_MAX_LENGTH
    )


def _audit_data(key: GatewayKey) -> dict:
    # Never the secret or its hash: the prefix is enough to tell keys apart.
    return {
        "key_id": key.pk,
        "name": key.name,
        "prefix": key.prefix,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "requests_per_minute": key.requests_per_minute,
        "tokens_per_minute": key.tokens_per_minute,
    }


def _announce(key: GatewayKey) -> None:
    key_id, use_case_id = key.pk, key.use_case_id
    transaction.on_commit(
        lambda: key_changed.send(
            sender=GatewayKey, key_id=key_id, use_case_id=use_case_id
        )
    )
