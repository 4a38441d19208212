"""A real Celery worker marks overdue conditions, and a second run notifies no one."""

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

from apps.core.events import portal_event
from apps.reviews import services as review_services
from apps.reviews import tasks
from apps.reviews.models import Condition
from apps.usecases.services import submit_use_case
from tests.celery_support import fresh_pools
from tests.factories import UseCaseFactory

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

QUEUE = f"test-risk-{uuid.uuid4().hex[:8]}"
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
    def __init__(self) -> None:
        self._done: dict[str, Any] = {}
        self._cond = threading.Condition()

    def __call__(
        self, task_id: str | None = None, retval: Any = None, **_: Any
    ) -> None:
        if task_id is None:
            return
        with self._cond:
            self._done[task_id] = retval
            self._cond.notify_all()

    def wait(self, task_id: str, timeout: float = 30.0) -> Any:
        with self._cond:
            ok = self._cond.wait_for(lambda: task_id in self._done, timeout=timeout)
        assert ok, f"task {task_id} did not finish within {timeout} s"
        return self._done[task_id]


@pytest.fixture
def worker() -> Iterator[Finished]:
    from portal.celery import app

    saved = app.conf.get("broker_transport_options")
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
        app.conf.broker_transport_options = saved
        fresh_pools(app)


def test_a_worker_marks_a_late_condition_overdue_and_notifies_once(worker, alice, bob):
    use_case = UseCaseFactory(owner=alice, requests_per_day=500)
    submit_use_case(use_case=use_case, by=alice)
    review_services.decide_use_case(
        use_case=use_case,
        by=bob,
        outcome="approved",
        pattern="proprietary_api",
        overrule_reason="Test.",
        conditions=["Bias audit | 2027-01-10", "Later | 2027-03-01"],
    )
    heard = []

    def receive(sender, event, **kwargs):  # type: ignore[no-untyped-def]
        if event.kind == "condition_overdue":
            heard.append(event.key)

    portal_event.connect(receive, weak=False, dispatch_uid="tests.risk.worker")
    try:
        first = tasks.mark_overdue_conditions.delay("2027-01-11")
        assert worker.wait(first.id) == 1
        second = tasks.mark_overdue_conditions.delay("2027-01-11")
        assert worker.wait(second.id) == 0
    finally:
        portal_event.disconnect(dispatch_uid="tests.risk.worker")
    late = Condition.objects.get(text="Bias audit")
    assert heard == [f"condition_overdue:{late.pk}"]
    assert dict(Condition.objects.values_list("text", "status")) == {
        "Bias audit": "overdue",
        "Later": "open",
    }
