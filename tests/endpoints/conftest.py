"""Shared fixtures for the endpoint tests: loopback servers and a short timeout."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import FakeServer


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):  # type: ignore[no-untyped-def]
    settings.ENDPOINT_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    settings.ENDPOINT_TIMEOUT_SECONDS = 2.0
    settings.FIELD_ENCRYPTION_KEY = "ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMzI="
