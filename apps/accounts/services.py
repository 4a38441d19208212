"""Issuing and revoking API tokens; each one is logged for the audit trail."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from .models import ApiToken, User
from .roles import Role

logger = logging.getLogger("apps.accounts.tokens")

# Roles that change something through the API; anyone else's token is read-only.
WRITING_ROLES = (Role.REQUESTER, Role.BOARD, Role.PLATFORM)


class TokenRefused(PermissionError):
    """A token this issuer may not mint: for someone else, or wider than its rights."""


def token_scopes_for(issuer: User) -> list[str]:
    """The scopes ``issuer`` may give a token of their own."""
    if issuer.is_superuser or issuer.has_role(*WRITING_ROLES):
        return [ApiToken.Scope.READ, ApiToken.Scope.WRITE]
    return [ApiToken.Scope.READ]


def check_token_issue(*, issuer: User, subject: User, scope: str) -> None:
    """Raise `TokenRefused` unless ``issuer`` may mint this token.

    A token acts only for the person who issues it: whoever holds a role issues
    that role's tokens themselves, so no role obtains rights it does not have
    (platform cannot read the board's internal notes through an auditor's token).
    Superusers' tokens come from the command line only.
    """
    if not issuer.is_active or issuer.pk != subject.pk:
        raise TokenRefused(
            "A token acts only for the person who issues it; "
            f"{subject.username} issues their own."
        )
    if subject.is_superuser:
        raise TokenRefused("Superusers' tokens are issued from the command line.")
    if scope not in token_scopes_for(issuer):
        raise TokenRefused("Your account can change nothing: its tokens are read-only.")


@transaction.atomic
def issue_api_token(
    *, user: User, name: str, scope: str, days: int | None, by: User | None
) -> tuple[ApiToken, str]:
    """A new token acting as ``user``; returns it with the only copy of its secret.

    ``by`` is the person issuing it (``None``: an operator on the command line,
    who may issue any account's token). Raises `TokenRefused` for a token that
    ``by`` may not mint (see `check_token_issue`).
    """
    if by is not None:
        check_token_issue(issuer=by, subject=user, scope=scope)
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


def may_revoke_api_token(*, token: ApiToken, user: User) -> bool:
    """Platform revokes any token; everyone revokes their own."""
    return token.user_id == user.pk or user.has_perm("accounts.change_apitoken")


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
