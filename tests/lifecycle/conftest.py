"""Helpers for the lifecycle tests: approved use-cases with routes, and events."""

from __future__ import annotations

import pytest

from apps.core.events import portal_event
from apps.reviews import services as reviews
from tests.factories import ServingEndpointFactory
from tests.playground.test_tasks import worker  # noqa: F401 (a real Celery worker)
from tests.reviews.conftest import submitted


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


@pytest.fixture
def events():  # type: ignore[no-untyped-def]
    """Every event emitted during the test (once its transaction commits)."""
    seen: list = []

    def receive(sender, event, **kwargs):  # type: ignore[no-untyped-def]
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
