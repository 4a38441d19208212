"""Per-token prices of a served model: the catalogue first, the endpoint's own second."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Q

from apps.catalogue.models import CatalogModel

if TYPE_CHECKING:
    from apps.endpoints.models import ServingEndpoint

MILLION = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million input and output tokens, and where it came from."""

    input_usd_per_mtok: Decimal
    output_usd_per_mtok: Decimal
    source: str

    def cost(self, *, input_tokens: int | float, output_tokens: int | float) -> Decimal:
        return (
            Decimal(int(input_tokens)) * self.input_usd_per_mtok
            + Decimal(int(output_tokens)) * self.output_usd_per_mtok
        ) / MILLION


def catalogue_price(model: str) -> Price | None:
    """The catalogue's price of ``model`` (matched on key or name, any case)."""
    if not model:
        return None
    return _lookup(model)


def _lookup(model: str) -> Price | None:
    # Served names often carry an organisation prefix ("meta-llama/...").
    names = {model, model.rsplit("/", 1)[-1]}
    rule = Q()
    for name in names:
        rule |= Q(key__iexact=name) | Q(name__iexact=name) | Q(litellm_key__iexact=name)
    row = (
        CatalogModel.objects.filter(rule)
        .values("input_usd_per_mtok", "output_usd_per_mtok")
        .first()
    )
    if row is None or row["input_usd_per_mtok"] is None:
        return None
    return Price(
        Decimal(str(row["input_usd_per_mtok"])),
        Decimal(str(row["output_usd_per_mtok"] or 0)),
        "catalogue",
    )


class PriceBook:
    """Prices for one endpoint's models, each looked up once.

    ``shared`` lets the endpoints of one batch share their catalogue lookups.
    """

    def __init__(
        self, endpoint: ServingEndpoint, shared: dict[str, Price | None] | None = None
    ) -> None:
        self.endpoint = endpoint
        self._catalogue = shared if shared is not None else {}

    def price(self, model: str) -> Price | None:
        if model not in self._catalogue:
            self._catalogue[model] = catalogue_price(model)
        return self._catalogue[model] or self._fallback()

    def _fallback(self) -> Price | None:
        endpoint = self.endpoint
        if endpoint.input_usd_per_mtok is None:
            return None
        return Price(
            endpoint.input_usd_per_mtok,
            endpoint.output_usd_per_mtok or Decimal(0),
            "endpoint",
        )
