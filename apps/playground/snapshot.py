"""What the path to the first token reads, kept in each process (as the gateway does).

A stream reads the session and its user from the database (two queries) and
nothing else before it calls the models: each endpoint's client configuration
(its key decrypted, kept in memory only) and prices, a user's roles and the
data policy's blocked sets come from this process's cache, which
:mod:`.signals` drops in every process when any of them changes
(:class:`apps.core.process_cache.VersionedCache`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from apps.accounts.models import User
from apps.core.crypto import DecryptionError
from apps.core.process_cache import MISSING, VersionedCache
from apps.endpoints.models import ServingEndpoint
from apps.endpoints.pricing import PriceBook

from .clients import Connection

cache = VersionedCache("playground", ttl=60.0)


@dataclass
class EndpointConfig:
    """A chat-capable endpoint as the playground calls it."""

    id: int
    name: str
    kind: str
    location: str
    served_models: tuple[str, ...]
    self_hosted: bool
    connection: Connection | None
    connection_error: str
    endpoint: ServingEndpoint
    # model → (input, output) USD a million tokens; filled on first use.
    prices: dict[str, tuple[Decimal | None, Decimal | None]] = field(
        default_factory=dict
    )

    def price(self, model: str) -> tuple[Decimal | None, Decimal | None]:
        if self.self_hosted:
            return None, None
        found = self.prices.get(model)
        if found is None:
            price = PriceBook(self.endpoint).price(model)
            found = (
                (price.input_usd_per_mtok, price.output_usd_per_mtok)
                if price
                else (None, None)
            )
            self.prices[model] = found
        return found


def endpoint_configs(ids: list[int]) -> dict[int, EndpointConfig]:
    """The chat-capable endpoints among ``ids``; one query for those not cached."""
    found: dict[int, EndpointConfig | None] = {}
    for pk in ids:
        config = cache.get(("endpoint", pk))
        if config is not MISSING:
            found[pk] = config
    missing = [pk for pk in ids if pk not in found]
    if missing:
        read = ServingEndpoint.objects.filter(chat_capable=True).in_bulk(missing)
        for pk in missing:
            endpoint = read.get(pk)
            found[pk] = cache.set(
                ("endpoint", pk), _config(endpoint) if endpoint else None
            )
    return {pk: config for pk, config in found.items() if config is not None}


def _config(endpoint: ServingEndpoint) -> EndpointConfig:
    connection, problem = None, ""
    try:
        connection = Connection(
            kind=endpoint.kind,
            base_url=endpoint.base_url,
            api_key=endpoint.decrypt_api_key(),
        )
    except DecryptionError:
        problem = "The endpoint's stored key cannot be decrypted; ask platform."
    return EndpointConfig(
        id=endpoint.pk,
        name=endpoint.name,
        kind=endpoint.kind,
        location=endpoint.location,
        served_models=tuple(endpoint.served_models or ()),
        self_hosted=endpoint.is_self_hosted,
        connection=connection,
        connection_error=problem,
        endpoint=endpoint,
    )


def load_roles(user: User) -> None:
    """Give ``user`` its roles from this process's cache (a query when not cached)."""
    wrapped = getattr(user, "_wrapped", None)  # request.user is a lazy object
    if isinstance(wrapped, User):
        user = wrapped
    if user.is_superuser or "roles" in user.__dict__:
        return
    roles = cache.get(("roles", user.pk))
    if roles is MISSING:
        roles = cache.set(("roles", user.pk), user.roles)
    else:
        user.__dict__["roles"] = roles  # the cached_property's slot


def blocked_sets() -> tuple[set[str], set[str]]:
    """:func:`.guard.read_blocked_sets`, read once per process and policy."""
    from .guard import read_blocked_sets

    found = cache.get("blocked")
    if found is MISSING:
        found = cache.set("blocked", read_blocked_sets())
    return set(found[0]), set(found[1])


def invalidate() -> None:
    cache.invalidate()
