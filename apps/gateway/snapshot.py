"""What the gateway needs to route a key's request, cached in each process.

A warm request touches no database before it goes upstream: keys, their
use-case, its routes, endpoints and budgets are read once into a
:class:`KeySnapshot` and kept for :data:`TTL` seconds. Any change that matters
(a key revoked, a decision recorded, an endpoint or budget changed) bumps a
version in the shared cache (Redis when ``CACHE_URL`` is set), which every
process checks at most every :data:`VERSION_CHECK` seconds, so a revoked key
stops working everywhere within that time.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from apps.core import crypto
from apps.core.process_cache import VersionedCache
from apps.endpoints.models import DailyUsage, ServingEndpoint
from apps.gateway.models import GatewayKey, GatewaySettings
from apps.gateway.routes import current_routes, must_stay_in_house, workload_types
from apps.portfolio.models import Budget
from apps.usecases.models import UseCase

TTL = 30.0
VERSION_CHECK = 1.0
VERSION_KEY = "gateway:version"
#: How long a month-to-date spend figure is used before it is read again.
SPEND_TTL = 30.0
SERVED = {UseCase.Status.APPROVED, UseCase.Status.LIVE}


@dataclass(frozen=True, slots=True)
class Upstream:
    """An endpoint as the gateway calls it (the key decrypted, kept in memory)."""

    id: int
    name: str
    kind: str
    base_url: str
    api_key: str | None
    in_house: bool
    failing: bool


@dataclass(frozen=True, slots=True)
class Target:
    upstream: Upstream
    model: str
    weight: int


@dataclass(frozen=True, slots=True)
class Route:
    workload: str
    targets: tuple[Target, ...]
    fallback: tuple[Target, ...]

    def order(self, rng: random.Random) -> list[Target]:
        """One target by weight first, then the others by weight, then fallback."""
        weighted = [t for t in self.targets if t.weight > 0]
        first: list[Target] = []
        if weighted:
            first = rng.choices(weighted, weights=[t.weight for t in weighted])
        rest = sorted(
            (t for t in self.targets if t not in first), key=lambda t: -t.weight
        )
        return [*first, *rest, *self.fallback]


@dataclass(frozen=True, slots=True)
class BudgetRule:
    scope: str  # "use_case" or "team"
    amount: Decimal
    hard: bool
    name: str


@dataclass(slots=True)
class KeySnapshot:
    """One key and everything its requests need, read at once."""

    key_id: int
    key_prefix: str
    expires_at: datetime | None
    requests_per_minute: int | None
    tokens_per_minute: int | None
    use_case_id: int
    use_case_title: str
    status: str
    team_id: int | None
    must_stay: bool
    workloads: tuple[str, ...]
    routes: dict[str, Route]
    budgets: tuple[BudgetRule, ...]
    log_requests: bool
    loaded_at: float = field(default_factory=time.monotonic)

    @property
    def served(self) -> bool:
        return self.status in SERVED

    def model_names(self) -> list[str]:
        """What ``model`` may name: workloads, ``auto`` and the approved models."""
        names = [*self.routes, "auto"] if self.routes else []
        for route in self.routes.values():
            for target in (*route.targets, *route.fallback):
                if target.model not in names:
                    names.append(target.model)
        return names


class _Cache:
    def __init__(self) -> None:
        self.keys: dict[str, KeySnapshot | None] = {}
        self.spend: dict[tuple[str, int], tuple[float, Decimal]] = {}
        # The version shared by every process (the playground's cache uses it too).
        self.versions = VersionedCache(
            VERSION_KEY.removesuffix(":version"), check_every=VERSION_CHECK
        )

    def check_version(self) -> None:
        if self.versions.check_version():
            self.clear()

    def clear(self) -> None:
        self.keys.clear()
        self.spend.clear()


_cache = _Cache()


def invalidate() -> None:
    """Tell every gateway process to read keys, routes and budgets again."""
    _cache.versions.invalidate()  # this process is up to date already
    _cache.clear()


def cached_key(key_hash: str) -> tuple[bool, KeySnapshot | None]:
    """(known, snapshot) from this process's cache; no database."""
    _cache.check_version()
    snapshot = _cache.keys.get(key_hash, _MISSING)
    if snapshot is _MISSING:
        return False, None
    if snapshot is not None and time.monotonic() - snapshot.loaded_at > TTL:
        return False, None
    return True, snapshot  # type: ignore[return-value]


_MISSING: Any = object()


def load_key(key_hash: str) -> KeySnapshot | None:
    """Read a key's snapshot from the database (sync; None: no such active key)."""
    key = (
        GatewayKey.objects.active()
        .select_related("use_case")
        .filter(key_hash=key_hash)
        .first()
    )
    if key is None:
        _cache.keys[key_hash] = None
        return None
    use_case = key.use_case
    snapshot = KeySnapshot(
        key_id=key.pk,
        key_prefix=key.prefix,
        expires_at=key.expires_at,
        requests_per_minute=key.requests_per_minute,
        tokens_per_minute=key.tokens_per_minute,
        use_case_id=use_case.pk,
        use_case_title=use_case.title,
        status=use_case.status,
        team_id=use_case.team_id,
        must_stay=must_stay_in_house(use_case),
        workloads=tuple(workload_types(use_case)),
        routes=_routes(current_routes(use_case) if use_case.status in SERVED else []),
        budgets=_budgets(use_case),
        log_requests=GatewaySettings.objects.filter(
            use_case=use_case, log_requests=True
        ).exists(),
    )
    _cache.keys[key_hash] = snapshot
    return snapshot


def _routes(raw: list[dict[str, Any]]) -> dict[str, Route]:
    ids = {
        target["endpoint"]
        for route in raw
        for target in (*route.get("targets", []), *route.get("fallback", []))
    }
    upstreams = {e.pk: _upstream(e) for e in ServingEndpoint.objects.filter(pk__in=ids)}

    def targets(items: list[dict[str, Any]]) -> tuple[Target, ...]:
        return tuple(
            Target(upstreams[t["endpoint"]], t["model"], int(t.get("weight", 1)))
            for t in items
            if t["endpoint"] in upstreams
        )

    return {
        route["workload"]: Route(
            route["workload"],
            targets(route.get("targets", [])),
            targets(route.get("fallback", [])),
        )
        for route in raw
    }


def _upstream(endpoint: ServingEndpoint) -> Upstream:
    try:
        api_key = endpoint.decrypt_api_key()
    except crypto.DecryptionError:
        api_key = None
    return Upstream(
        id=endpoint.pk,
        name=endpoint.name,
        kind=endpoint.kind,
        base_url=endpoint.base_url,
        api_key=api_key,
        in_house=endpoint.location == ServingEndpoint.Location.IN_HOUSE,
        failing=endpoint.enabled and endpoint.health == ServingEndpoint.Health.FAILING,
    )


def _budgets(use_case: UseCase) -> tuple[BudgetRule, ...]:
    rules = []
    for budget in Budget.objects.filter(use_case=use_case):
        rules.append(
            BudgetRule(
                "use_case",
                budget.monthly_amount,
                budget.enforcement == Budget.Enforcement.HARD,
                f"use-case budget of {budget.monthly_amount:,.2f} USD",
            )
        )
    if use_case.team_id:
        for budget in Budget.objects.filter(team_id=use_case.team_id):
            rules.append(
                BudgetRule(
                    "team",
                    budget.monthly_amount,
                    budget.enforcement == Budget.Enforcement.HARD,
                    f"team budget of {budget.monthly_amount:,.2f} USD",
                )
            )
    return tuple(rules)


def cached_spend(scope: str, owner_id: int) -> tuple[Decimal | None, bool]:
    """This process's month-to-date spend of a use-case or team, and whether it is
    fresh; (None, False) when it was never read."""
    found = _cache.spend.get((scope, owner_id))
    if found is None:
        return None, False
    return found[1], time.monotonic() - found[0] <= SPEND_TTL


def load_month_to_date(scope: str, owner_id: int) -> Decimal:
    """Read month-to-date spend (daily rollups, the gateway's own usage included)."""
    today = timezone.now().astimezone(UTC).date()
    rows = DailyUsage.objects.filter(date__gte=today.replace(day=1), date__lte=today)
    rows = (
        rows.filter(use_case_id=owner_id)
        if scope == "use_case"
        else rows.filter(team_id=owner_id)
    )
    total = rows.aggregate(total=Sum("cost"))["total"] or Decimal(0)
    _cache.spend[(scope, owner_id)] = (time.monotonic(), total)
    return total


def add_spend_of(use_case_id: int, cost: Decimal) -> None:
    """Count metered cost at once, before a re-read of the rollups has it."""
    found = _cache.spend.get(("use_case", use_case_id))
    if found is not None:
        _cache.spend[("use_case", use_case_id)] = (found[0], found[1] + cost)
    for snap in list(_cache.keys.values()):
        if snap is not None and snap.use_case_id == use_case_id and snap.team_id:
            team = _cache.spend.get(("team", snap.team_id))
            if team is not None:
                _cache.spend[("team", snap.team_id)] = (team[0], team[1] + cost)
            break
