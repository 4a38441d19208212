"""The engine's Catalogue built from the database, cached per catalogue version.

`current_catalogue()` costs one query when nothing changed (the version check) and
three more when it did. The built Catalogue also carries the engine's own caches
(priced catalogues per token profile), so re-using it keeps evaluations fast.
"""

from __future__ import annotations

import threading
from typing import Any

from apps.catalogue.models import CatalogModel, GpuProfile, catalogue_version
from apps.catalogue.models import PriceSnapshot as SnapshotRow
from apps.catalogue.offers import ManagedOffer

from .engine import Catalogue, load_catalogue, load_seed_catalogue

_lock = threading.Lock()
_cache: dict[tuple[Any, ...], Catalogue] = {}


class CatalogueMissing(LookupError):
    """No catalogue in the database (run seed_demo or load_seed_catalogue)."""


def build_catalogue() -> Catalogue:
    """Read the catalogue from the database (four queries)."""
    snapshot = SnapshotRow.objects.current()
    gpus = list(GpuProfile.objects.order_by("key"))
    if snapshot is None or not gpus:
        raise CatalogueMissing("The catalogue is empty.")
    default = next((g for g in gpus if g.is_default), gpus[0])
    models = CatalogModel.objects.active().for_list().order_by("key")
    offers: dict[int, list[dict[str, Any]]] = {}
    for offer in ManagedOffer.objects.for_engine():
        offers.setdefault(offer.model_id, []).append(offer.as_engine_dict())
    model_dicts = []
    for m in models:
        data = m.as_engine_dict()
        if m.pk in offers and "managed" in data["hosting"]:
            data["managed_offers"] = _with_primary(data, offers[m.pk])
        model_dicts.append(data)
    return load_catalogue(
        {
            "snapshot": {
                "id": snapshot.key,
                "source": snapshot.source,
                "date": snapshot.date.isoformat(),
            },
            "default_gpu_profile": default.key,
            "gpu_profiles": [g.as_engine_dict() for g in gpus],
            "models": model_dicts,
        }
    )


def _with_primary(
    model: dict[str, Any], offers: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The model's own host (``hosted_by`` at its own prices) stays an offer even
    when only other hosts have ManagedOffer rows."""
    host = model["hosted_by"]
    if (
        not host
        or model["input_usd_per_mtok"] is None
        or model["output_usd_per_mtok"] is None
        or any(o["provider"] == host for o in offers)
    ):
        return offers
    primary = {
        "provider": host,
        **{
            name: model[name]
            for name in (
                "input_usd_per_mtok",
                "output_usd_per_mtok",
                "cached_input_usd_per_mtok",
                "batch_input_usd_per_mtok",
                "batch_output_usd_per_mtok",
                "price_source",
            )
        },
        "price_date": model["price_date"] or offers[0]["price_date"],
    }
    return [primary, *offers]


def current_catalogue(*, fallback_to_seed: bool = False) -> Catalogue:
    """The catalogue as it is now, re-built only when its version changed.

    With `fallback_to_seed`, an empty database gives the bundled seed catalogue
    (used by the stateless evaluate API and the live preview).
    """
    version = catalogue_version()
    if not version:
        if fallback_to_seed:
            return load_seed_catalogue()
        raise CatalogueMissing("The catalogue is empty.")
    cached = _cache.get(version)
    if cached is not None:
        return cached
    catalogue = build_catalogue()
    with _lock:
        _cache.clear()  # only the current version is ever wanted again
        _cache[version] = catalogue
    return catalogue
