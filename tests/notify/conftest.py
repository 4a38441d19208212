from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.notify import services
from apps.notify.models import Subscription
from tests.servers import FakeServer

LOOPBACK = ["127.0.0.0/8"]


@pytest.fixture
def receiver() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def loopback_allowed(settings):  # type: ignore[no-untyped-def]
    settings.NOTIFY_ALLOWED_NETWORKS = LOOPBACK
    settings.NOTIFY_TIMEOUT_SECONDS = 2


@pytest.fixture(autouse=True)
def enqueued(request, monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """Deliveries enqueued on commit, kept here instead of sent to the broker
    (tests marked `celery` run a real worker instead)."""
    ids: list[int] = []
    if request.node.get_closest_marker("celery") is None:
        monkeypatch.setattr(services, "_enqueue", ids.extend)
    return ids


def subscribe(
    *, channel: str, target: str, secret: str = "", **fields: object
) -> Subscription:
    return services.save_subscription(
        subscription=None,
        fields={"name": f"{channel} test", "channel": channel, **fields},
        target=target,
        secret=secret or None,
        by=None,
    )
