"""Helpers for the lifecycle tests: approved use-cases with routes, and events."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache

from apps.core.events import EventKind, portal_event
from apps.reviews import services as reviews
from tests.factories import ServingEndpointFactory
from tests.playground.test_tasks import worker  # noqa: F401 (a real Celery worker)
from tests.reviews.conftest import submitted
from tests.servers import FakeServer


def approved(owner, board, routes, **fields):  # type: ignore[no-untyped-def]
    """A use-case approved by the board with ``routes`` ([(endpoint, model, weight)]
    for its one classification workload)."""
    use_case = submitted(owner, **fields)
    reviews.decide_use_case(
        use_case=use_case,
        by=board,
        outcome="approved",
        pattern="hybrid",
        overrule_reason="Routed per workload by the board.",
        routes=[
            {
                "workload": "classification",
                "targets": [
                    {"endpoint": e.pk, "model": m, "weight": w} for e, m, w in routes
                ],
            }
        ],
    )
    use_case.refresh_from_db()
    return use_case


LIFECYCLE_KINDS = {
    EventKind.MODEL_DEPRECATION,
    EventKind.UPGRADE_PROPOSED,
    EventKind.CONFORMANCE_FLAGGED,
}


@pytest.fixture
def events():  # type: ignore[no-untyped-def]
    """Every lifecycle event emitted during the test (once its transaction
    commits); review moves announce themselves too, and are not counted here."""
    seen: list = []

    def receive(sender, event, **kwargs):  # type: ignore[no-untyped-def]
        if event.kind in LIFECYCLE_KINDS:
            seen.append(event)

    portal_event.connect(receive, dispatch_uid="lifecycle-tests")
    yield seen
    portal_event.disconnect(dispatch_uid="lifecycle-tests")


@pytest.fixture
def llama(db):  # type: ignore[no-untyped-def]
    return ServingEndpointFactory(
        name="Llama box", served_models=["llama-3.1-8b", "llama-3.1-70b"]
    )


@pytest.fixture
def openai(db):  # type: ignore[no-untyped-def]
    return ServingEndpointFactory(
        name="OpenAI",
        kind="openai",
        location="external",
        served_models=["gpt-4o", "gpt-4o-mini", "gpt-4.1"],
    )


@pytest.fixture
def catalogue(db):  # type: ignore[no-untyped-def]
    from apps.catalogue.seed import load_seed_catalogue

    return load_seed_catalogue()


@pytest.fixture(autouse=True)
def _loopback_allowed(settings):  # type: ignore[no-untyped-def]
    settings.ENDPOINT_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    settings.PLAYGROUND_READ_TIMEOUT_SECONDS = 5.0
    settings.PLAYGROUND_TOTAL_TIMEOUT_SECONDS = 20.0
    cache.clear()
    yield
    cache.clear()


def model_server(reply: str) -> Iterator[FakeServer]:
    with FakeServer() as server:
        server.chat_reply = reply
        yield server


@pytest.fixture
def incumbent_server() -> Iterator[FakeServer]:
    yield from model_server("The claim goes to the motor queue.")


@pytest.fixture
def regressing_server() -> Iterator[FakeServer]:
    yield from model_server("Motor queue.")


@pytest.fixture
def passing_server() -> Iterator[FakeServer]:
    yield from model_server("The motor queue, as the claim names a van.")
