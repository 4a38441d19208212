"""A real Celery worker runs a test set against loopback model servers."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from celery.contrib.testing.worker import start_worker
from django.urls import reverse

from apps.playground.models import TestSetRun
from tests.celery_support import fresh_pools
from tests.factories import TestInputFactory, TestSetFactory, UseCaseFactory

from .conftest import LOCAL_MODEL

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path) -> Iterator[None]:  # type: ignore[no-untyped-def]
    from portal.celery import app

    # The queue is left as configured: the app caches its queues on first use,
    # so another test's queue may already be the default one. The broker folder is
    # this test's own, so nothing else is consumed.
    saved = {"broker_transport_options": app.conf.get("broker_transport_options")}
    if str(app.conf.broker_url).startswith("filesystem://"):
        folder = tmp_path / "broker"
        folder.mkdir()
        app.conf.broker_transport_options = {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "control_folder": str(tmp_path / "control"),
            "store_processed": False,
        }
    fresh_pools(app)
    # Tasks other tests left on a shared broker (Redis in CI) would run first.
    app.control.purge()
    try:
        with start_worker(app, perform_ping_check=False, shutdown_timeout=10):
            yield
    finally:
        for key, value in saved.items():
            app.conf[key] = value
        fresh_pools(app)


def test_a_worker_runs_a_test_set_with_progress_the_page_polls(
    worker, client, alice, local_endpoint, big_endpoint, local_server
):
    local_server.chunk_delay = 0.02
    use_case = UseCaseFactory(owner=alice)
    test_set = TestSetFactory(use_case=use_case, created_by=alice)
    for expected in ("motor", "claim", "nothing-like-this", "queue"):
        TestInputFactory(test_set=test_set, check_kind="contains", expected=expected)
    client.force_login(alice)

    started = client.post(
        reverse("playground:test_set_run_start", args=[test_set.pk]),
        {
            "target": [
                f"{local_endpoint.pk}:{LOCAL_MODEL}",
                f"{big_endpoint.pk}:{big_endpoint.served_models[0]}",
            ]
        },
    )
    progress_url = started["Location"]
    seen: list[int] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        fragment = client.get(progress_url, HTTP_HX_REQUEST="true").content.decode()
        run = TestSetRun.objects.get()
        seen.append(run.completed)
        if "every 1s" not in fragment:
            break
        time.sleep(0.05)

    run = TestSetRun.objects.get()
    assert run.status == TestSetRun.Status.DONE, run.error
    assert seen == sorted(seen) and seen[-1] == 8
    local, big = run.summary()
    # "The claim goes to the motor queue." has motor, claim and queue.
    assert (local.count, local.passed, local.errors) == (4, 3, 0)
    # "Motor queue, because the claim names a vehicle.": claim and queue (not "motor").
    assert (big.count, big.passed, big.errors) == (4, 2, 0)
    assert "test-set-summary" in fragment
