"""Issuing and revoking API tokens; each one is logged for the audit trail."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from .models import ApiToken, User

logger = logging.getLogger("apps.accounts.tokens")


@transaction.atomic
def issue_api_token(
    *, user: User, name: str, scope: str, days: int | None, by: User | None
) -> tuple[ApiToken, str]:
    """A new token acting as ``user``; returns it with the only copy of its secret."""
    token, key = ApiToken.issue(user=user, name=name, scope=scope, days=days)
    if by is not None:
        token.issued_by = by
        token.save(update_fields=["issued_by"])
    logger.info(
        "API token %s (%s, %s) issued for %s by %s, expires %s",
        token.key_prefix,
        name,
        scope,
        user.username,
        by.username if by else "the command line",
        token.expires_at.isoformat() if token.expires_at else "never",
    )
    return token, key


def revoke_api_token(*, token: ApiToken, by: User | None) -> bool:
    """Revoke ``token`` now; False when it was already revoked."""
    revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by
    )
    if revoked:
        token.refresh_from_db(fields=["revoked_at", "revoked_by"])
        logger.info(
            "API token %s (%s) of %s revoked by %s",
            token.key_prefix,
            token.name,
            token.user.username,
            by.username if by else "the command line",
        )
    return bool(revoked)
