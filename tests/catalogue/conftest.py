"""Fixtures for the catalogue: the seed catalogue in the database."""

from __future__ import annotations

import pytest

from apps.catalogue.seed import load_seed_catalogue
from apps.framework.models import Policy


@pytest.fixture
def catalogue(db):  # type: ignore[no-untyped-def]
    """The seed catalogue (dated public prices) loaded into the database."""
    return load_seed_catalogue()


@pytest.fixture
def policy(db):  # type: ignore[no-untyped-def]
    return Policy.objects.current()
