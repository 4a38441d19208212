"""A real Celery worker delivers through retries, once per subscription and event.

The broker is the project's own (``CELERY_BROKER_URL``: the filesystem broker by
default), on a queue of this test's own.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun

from apps.core.events import Event, EventKind, emit
from apps.notify import services
from apps.notify.models import Delivery, Notification
from tests.celery_support import fresh_pools
from tests.factories import UseCaseFactory
from tests.notify.conftest import LOOPBACK, subscribe
from tests.servers import FakeServer, RecordedRequest, Reply

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

TASK = "apps.notify.tasks.deliver_notification"
QUEUE = f"test-notify-{uuid.uuid4().hex[:8]}"
_BROKER_DIR = tempfile.mkdtemp(prefix="portal-test-broker-")
atexit.register(shutil.rmtree, _BROKER_DIR, True)
atexit.register(shutil.rmtree, _BROKER_DIR + "-control", True)
_BROKER_OPTIONS = {
    "data_folder_in": _BROKER_DIR,
    "data_folder_out": _BROKER_DIR,
    "control_folder": _BROKER_DIR + "-control",
    "store_processed": False,
}


class Finished:
    """Counts delivery tasks that ended (retries are not endings)."""

    def __init__(self) -> None:
        self.ended = 0
        self._cond = threading.Condition()

    def __call__(self, task: Any = None, state: str | None = None, **_: Any) -> None:
        if state == "RETRY" or getattr(task, "name", None) != TASK:
            return
        with self._cond:
            self.ended += 1
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 30.0) -> None:
        with self._cond:
            ok = self._cond.wait_for(lambda: self.ended >= count, timeout=timeout)
        assert ok, f"{count} delivery task(s) did not end within {timeout} s"


@pytest.fixture
def worker(settings) -> Iterator[Finished]:  # type: ignore[no-untyped-def]
    from portal.celery import app

    settings.NOTIFY_ALLOWED_NETWORKS = LOOPBACK
    settings.NOTIFY_TIMEOUT_SECONDS = 2
    settings.NOTIFY_RETRY_MAX = 4
    settings.NOTIFY_RETRY_BACKOFF_SECONDS = 0.05
    saved = {
        "broker_transport_options": app.conf.get("broker_transport_options"),
        "task_default_queue": app.conf.get("task_default_queue"),
    }
    if str(app.conf.broker_url).startswith("filesystem://"):
        app.conf.broker_transport_options = _BROKER_OPTIONS
    app.conf.task_default_queue = QUEUE
    fresh_pools(app)
    # Tasks other tests left on a shared broker (Redis in CI) would run first.
    app.control.purge()
    finished = Finished()
    task_postrun.connect(finished, weak=False)
    try:
        with start_worker(app, perform_ping_check=False, shutdown_timeout=10):
            yield finished
    finally:
        task_postrun.disconnect(finished)
        for key, value in saved.items():
            app.conf[key] = value
        fresh_pools(app)


@pytest.fixture
def receiver() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


def flaky(failures: int):  # type: ignore[no-untyped-def]
    """500 for the first ``failures`` requests, then 200."""
    seen: list[str] = []

    def handle(request: RecordedRequest) -> Reply:
        seen.append(request.headers["idempotency-key"])
        if len(seen) <= failures:
            return Reply(500, {}, b"upstream hiccup")
        return Reply(200, {}, b"ok")

    return handle


def test_a_receiver_failing_twice_gets_the_event_exactly_once(
    worker: Finished, receiver: FakeServer, alice
):
    receiver.route("POST", "/hook", flaky(2))
    subscription = subscribe(channel="slack", target=receiver.url + "/hook")
    use_case = UseCaseFactory(owner=alice, title="Claims triage")
    event = Event(
        kind=EventKind.DRIFT_FLAGGED,
        key=f"drift:worker:{use_case.pk}",
        title="Re-assess Claims triage",
        url=use_case.get_absolute_url(),
        use_case_id=use_case.pk,
        user_ids=(alice.pk,),
    )
    emit(event)  # outside a transaction: recorded and enqueued at once
    worker.wait_for(1)

    delivery = Delivery.objects.get(subscription=subscription)
    assert delivery.status == Delivery.Status.SENT
    assert delivery.attempts == 3
    assert delivery.last_error.startswith("HTTP 500")  # what the retries were for
    statuses = [r for r in receiver.requests if r.path == "/hook"]
    assert len(statuses) == 3
    # Every attempt carried the same idempotency key: one event, one key.
    assert {r.headers["idempotency-key"] for r in statuses} == {delivery.key}

    # The same event again (a retried emitter) and the same task again (a
    # redelivered message) send nothing more.
    emit(event)
    from apps.notify.tasks import deliver_notification

    deliver_notification.delay(delivery.pk)
    worker.wait_for(2)
    assert Delivery.objects.filter(subscription=subscription).count() == 1
    assert len([r for r in receiver.requests if r.path == "/hook"]) == 3
    assert Notification.objects.filter(user=alice, key=event.key).count() == 1


def test_a_receiver_that_never_recovers_is_given_up_with_its_error(
    worker: Finished, receiver: FakeServer, alice
):
    receiver.fail("/hook", status=502)
    subscription = subscribe(channel="slack", target=receiver.url + "/hook")
    services.record_event(
        event=Event(kind=EventKind.ENDPOINT_FAILING, key="x:1", title="Down")
    )
    worker.wait_for(1)
    delivery = Delivery.objects.get(subscription=subscription)
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 5  # the first and NOTIFY_RETRY_MAX retries
    assert delivery.last_error.startswith("HTTP 502")
