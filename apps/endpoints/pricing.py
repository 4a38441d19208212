"""Per-token prices of a served model: the catalogue first, the endpoint's own second.

The catalogue app is looked up by shape, not by name: any catalogue model with
``input_usd_per_mtok`` and ``output_usd_per_mtok`` and a ``key`` or ``name`` is a
price list. Until one exists, the endpoint's fallback prices apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.db import DatabaseError, transaction
from django.db.models import Q

if TYPE_CHECKING:
    from apps.endpoints.models import ServingEndpoint

MILLION = Decimal(1_000_000)
_PRICE_FIELDS = ("input_usd_per_mtok", "output_usd_per_mtok")
_NAME_FIELDS = ("key", "name", "slug", "model_name")


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
    catalogue_model = _price_model()
    if catalogue_model is None:
        return None
    names = {model, model.rsplit("/", 1)[-1]}
    field_names = {f.name for f in catalogue_model._meta.get_fields()}
    rule = Q()
    for field in _NAME_FIELDS:
        if field in field_names:
            for name in names:
                rule |= Q(**{f"{field}__iexact": name})
    try:
        with transaction.atomic():  # a savepoint: a missing table aborts only it
            row = catalogue_model.objects.filter(rule).values(*_PRICE_FIELDS).first()
    except DatabaseError:
        return None
    if row is None or row["input_usd_per_mtok"] is None:
        return None
    return Price(
        Decimal(str(row["input_usd_per_mtok"])),
        Decimal(str(row["output_usd_per_mtok"] or 0)),
        "catalogue",
    )


def _price_model() -> Any:
    try:
        config = apps.get_app_config("catalogue")
    except LookupError:
        return None
    models = sorted(
        config.get_models(), key=lambda m: m.__name__ != "CatalogModel"
    )  # the catalogue's own model first; history tables never
    for model in models:
        if model.__name__.startswith("Historical"):
            continue
        field_names = {f.name for f in model._meta.get_fields()}
        if set(_PRICE_FIELDS) <= field_names and field_names & set(_NAME_FIELDS):
            return model
    return None


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
