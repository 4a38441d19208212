from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from functools import cached_property

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from .roles import READ_ALL_ROLES, Role


class Team(models.Model):
    """A business unit; use-cases and requesters belong to one."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=120, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person signing in; roles are Django groups named after `Role`."""

    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )

    @cached_property
    def roles(self) -> frozenset[str]:
        if self.is_superuser:
            return frozenset(Role.values)
        return frozenset(self.groups.values_list("name", flat=True))

    def has_role(self, *roles: str) -> bool:
        return self.is_active and bool(self.roles.intersection(roles))

    @property
    def reads_everything(self) -> bool:
        return self.is_superuser or bool(self.roles & READ_ALL_ROLES)


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )

    def visible_to(self, user: User) -> ApiTokenQuerySet:
        """Platform and auditors see every token; anyone else their own."""
        if user.has_perm("accounts.view_apitoken"):
            return self
        return self.filter(user=user)


class ApiToken(models.Model):
    """A bearer token for a tool; only the SHA-256 of the secret is stored."""

    class Scope(models.TextChoices):
        READ = "read", "Read-only"
        WRITE = "write", "Read-write"

    PREFIX = "aip_"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=10, choices=Scope.choices, default=Scope.READ)
    key_prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # Who minted and who revoked it (null: the command line), for the audit trail.
    issued_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    revoked_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()

    @classmethod
    def issue(
        cls, *, user: User, name: str, scope: str = Scope.READ, days: int | None = 90
    ) -> tuple[ApiToken, str]:
        """Create a token and return it with the only copy of its secret."""
        key = cls.PREFIX + secrets.token_urlsafe(32)
        expires_at = timezone.now() + timedelta(days=days) if days else None
        token = cls.objects.create(
            user=user,
            name=name,
            scope=scope,
            key_prefix=key[:12],
            key_hash=cls.hash_key(key),
            expires_at=expires_at,
        )
        return token, key

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now()
        )

    def revoke(self) -> None:
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])


class OidcIdentity(models.Model):
    """Links a portal account to one subject at one OpenID provider.

    Accounts are found by (issuer, subject), never by e-mail: an address re-used
    or changed at the identity provider must not open someone else's account.
    """

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="oidc_identity"
    )
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["issuer", "subject"], name="oidc_identity_unique_subject"
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class IdpGroupMapping(models.Model):
    """An identity provider group giving a role and/or a team, kept in the admin.

    Added to the maps from the environment (``OIDC_ROLE_MAP``, ``OIDC_TEAM_MAP``;
    apps/accounts/claim_mapping.py); environment entries come first.
    """

    group = models.CharField(
        max_length=255,
        help_text="The group's name or id exactly as the provider sends it.",
    )
    role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        ordering = ["group", "pk"]
        verbose_name = "identity provider group mapping"
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(role="") | models.Q(team__isnull=False),
                name="idp_group_mapping_gives_something",
            )
        ]

    def __str__(self) -> str:
        gives = [
            str(self.get_role_display()) if self.role else "",
            str(self.team or ""),
        ]
        return f"{self.group} → {', '.join(g for g in gives if g)}"
