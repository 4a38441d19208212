"""One way for the tests that start a real Celery worker to reset the app between them."""

from __future__ import annotations

from typing import Any


def fresh_pools(app: Any) -> None:
    """Drop the broker connections and the app's AMQP state.

    Pooled connections keep the options they were made with (an earlier test's
    broker folder), and the AMQP object caches its queues and router on first use:
    without dropping it, a worker would consume the first test's queue while tasks
    go to this test's own.
    """
    app._pool = None
    app.__dict__.pop("amqp", None)
