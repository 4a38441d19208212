"""From the identity provider's groups to the portal's roles and team.

Both maps come from settings (the environment): ``OIDC_ROLE_MAP`` pairs groups
with roles (``"ai-board=board,ai-platform=platform"``; a group may be listed
twice for two roles) and ``OIDC_TEAM_MAP`` groups with team slugs
(``"claims-dept=claims"``). Either may also be a JSON object (``{"group": "role"}``
or ``{"group": ["role", "role"]}``) for group names holding commas or ``=``.

An administrator can add more in the admin (:class:`~apps.accounts.models.IdpGroupMapping`);
they follow the environment's entries.

They are applied at every sign-in: the user's role groups become exactly the
mapped ones, and their team the first mapped team (none when no group maps to
one). Groups that are not roles, and staff or superuser flags, are left alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured

from .models import IdpGroupMapping, Team, User
from .roles import Role


def parse_map(value: Any, *, name: str) -> list[tuple[str, str]]:
    """``(group, target)`` pairs, in the order given."""
    if isinstance(value, dict):
        items: Iterable[tuple[str, Any]] = value.items()
    elif isinstance(value, str) and value.strip().startswith("{"):
        try:
            items = json.loads(value).items()
        except (ValueError, AttributeError) as exc:
            raise ImproperlyConfigured(f"{name} is not a JSON object: {exc}") from None
    elif isinstance(value, str):
        items = []
        for pair in filter(None, (p.strip() for p in value.split(","))):
            group, sep, target = pair.rpartition("=")
            if not sep or not group.strip() or not target.strip():
                raise ImproperlyConfigured(f"{name}: “{pair}” is not group=value.")
            items.append((group.strip(), target.strip()))  # type: ignore[attr-defined]
    else:
        raise ImproperlyConfigured(f"{name} must be a string or a dict.")
    pairs = []
    for group, targets in items:
        for target in [targets] if isinstance(targets, str) else targets:
            pairs.append((str(group), str(target)))
    return pairs


def role_map() -> list[tuple[str, str]]:
    pairs = parse_map(settings.OIDC_ROLE_MAP, name="OIDC_ROLE_MAP")
    unknown = sorted({role for _, role in pairs} - set(Role.values))
    if unknown:
        raise ImproperlyConfigured(
            f"OIDC_ROLE_MAP names unknown roles {unknown}; roles are {Role.values}."
        )
    return pairs + list(
        IdpGroupMapping.objects.exclude(role="").values_list("group", "role")
    )


def team_map() -> list[tuple[str, str]]:
    return parse_map(settings.OIDC_TEAM_MAP, name="OIDC_TEAM_MAP") + list(
        IdpGroupMapping.objects.filter(team__isnull=False).values_list(
            "group", "team__slug"
        )
    )


def groups_from_claims(claims: dict[str, Any]) -> list[str]:
    """The groups claim as a list of strings (a lone string is one group)."""
    value = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return []
    return [str(item) for item in value if isinstance(item, str | int)]


@dataclass(frozen=True)
class Access:
    roles: frozenset[str]
    team_slug: str | None


def resolve(groups: Iterable[str]) -> Access:
    """The roles and team these IdP groups map to."""
    held = set(groups)
    roles = frozenset(role for group, role in role_map() if group in held)
    team = next((slug for group, slug in team_map() if group in held), None)
    return Access(roles=roles, team_slug=team)


def apply(*, user: User, access: Access) -> dict[str, Any]:
    """Make ``user``'s roles and team exactly ``access``; returns what changed."""
    before_roles = set(
        user.groups.filter(name__in=Role.values).values_list("name", flat=True)
    )
    role_groups = {g.name: g for g in Group.objects.filter(name__in=Role.values)}
    removed = before_roles - access.roles
    added = access.roles - before_roles
    if removed:
        user.groups.remove(*(role_groups[name] for name in removed))
    if added:
        user.groups.add(*(role_groups[name] for name in added if name in role_groups))
    team = None
    if access.team_slug:
        team, _ = Team.objects.get_or_create(
            slug=access.team_slug, defaults={"name": access.team_slug}
        )
    changes: dict[str, Any] = {}
    if added or removed:
        changes["roles"] = {"added": sorted(added), "removed": sorted(removed)}
    if user.team_id != (team.pk if team else None):
        changes["team"] = {
            "from": user.team.slug if user.team else None,
            "to": team.slug if team else None,
        }
        user.team = team
        user.save(update_fields=["team"])
    user.__dict__.pop("roles", None)  # the cached property
    return changes
