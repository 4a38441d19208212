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

from .engine import Catalogue, load_catalogue, load_seed_catalogue

_lock = threading.Lock()
_cache: dict[tuple[Any, ...], Catalogue] = {}


class CatalogueMissing(LookupError):
    """No catalogue in the database (run seed_demo or load_seed_catalogue)."""


def build_catalogue() -> Catalogue:
    """Read the catalogue from the database (three queries)."""
    snapshot = SnapshotRow.objects.current()
    gpus = list(GpuProfile.objects.order_by("key"))
    if snapshot is None or not gpus:
        raise CatalogueMissing("The catalogue is empty.")
    default = next((g for g in gpus if g.is_default), gpus[0])
    models = CatalogModel.objects.active().for_list().order_by("key")
    return load_catalogue(
        {
            "snapshot": {
                "id": snapshot.key,
                "source": snapshot.source,
                "date": snapshot.date.isoformat(),
            },
            "default_gpu_profile": default.key,
            "gpu_profiles": [g.as_engine_dict() for g in gpus],
            "models": [m.as_engine_dict() for m in models],
        }
    )


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
