"""Loads apps/catalogue/seed_catalogue.json (dated public prices) into the database.

Idempotent: a snapshot already loaded is left alone. Tests call
`load_seed_catalogue()` to get the same catalogue the engine's own tests use.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .models import PriceSnapshot
from .services import load_catalogue_data

SEED_CATALOGUE = Path(__file__).resolve().parent / "seed_catalogue.json"


def load_seed_catalogue(path: Path = SEED_CATALOGUE) -> PriceSnapshot:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    snapshot, _ = load_catalogue_data(data=data)
    return snapshot


def seed_demo(context: dict) -> None:
    context["price_snapshot"] = load_seed_catalogue()
