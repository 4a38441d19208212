"""A real Celery worker polls real loopback servers playing each provider format.

The broker is the project's own (``CELERY_BROKER_URL``: the filesystem broker by
default, Redis in CI), on a queue of this test's own.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db.models import Sum

from apps.core import crypto
from apps.endpoints import tasks
from apps.endpoints.models import DailyUsage, ServingEndpoint, UsageSample
from tests.celery_support import fresh_pools
from tests.factories import EndpointMappingFactory, ServingEndpointFactory
from tests.servers import FakeServer, fixture_json

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]

MODEL = "meta-llama/Llama-3.1-8B-Instruct"
SECRET = "sk-admin-test-Zq81vXn"
# One queue of this test run's own (the app caches its queues once configured).
QUEUE = f"test-endpoints-{uuid.uuid4().hex[:8]}"
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
    """Waits for a task (and all its retries) to end in the worker."""

    def __init__(self) -> None:
        self._done: dict[str, str] = {}
        self._cond = threading.Condition()

    def __call__(
        self, task_id: str | None = None, state: str | None = None, **_: Any
    ) -> None:
        if state == "RETRY" or task_id is None:
            return
        with self._cond:
            self._done[task_id] = state or ""
            self._cond.notify_all()

    def wait(self, task_id: str, timeout: float = 30.0) -> str:
        with self._cond:
            ok = self._cond.wait_for(lambda: task_id in self._done, timeout=timeout)
        assert ok, f"task {task_id} did not finish within {timeout} s"
        return self._done[task_id]


@pytest.fixture
def worker(settings) -> Iterator[Finished]:  # type: ignore[no-untyped-def]
    from portal.celery import app

    settings.ENDPOINT_TIMEOUT_SECONDS = 0.5
    settings.ENDPOINT_RETRY_MAX = 2
    settings.ENDPOINT_RETRY_BACKOFF_SECONDS = 0.1
    saved = {"broker_transport_options": app.conf.get("broker_transport_options")}
    if str(app.conf.broker_url).startswith("filesystem://"):
        # Folders of this run's own (the pools are dropped around the worker).
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


def poll(worker: Finished, endpoint: ServingEndpoint) -> None:
    result = tasks.collect_endpoint_usage.delay(endpoint.pk)
    worker.wait(result.id)
    endpoint.refresh_from_db()


def totals(endpoint: ServingEndpoint) -> tuple[int, int, int]:
    sums = UsageSample.objects.filter(
        endpoint=endpoint, measure=UsageSample.Measure.USAGE
    ).aggregate(r=Sum("requests"), i=Sum("input_tokens"), o=Sum("output_tokens"))
    return (sums["r"] or 0, sums["i"] or 0, sums["o"] or 0)


def test_a_worker_counts_vllm_usage_exactly_through_outage_garbage_hang_and_restart(
    worker: Finished, server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint = ServingEndpointFactory(base_url=server.url, hourly_cost=Decimal("2"))
    EndpointMappingFactory(endpoint=endpoint, model_name=MODEL)
    expected = [0, 0, 0]

    def serve(
        requests: int, prompt: int, generation: int, created: float | None = None
    ) -> None:
        server.set_vllm(
            model=MODEL,
            requests=requests,
            prompt_tokens=prompt,
            generation_tokens=generation,
            created=created,
        )

    serve(10, 100, 50)
    poll(worker, endpoint)  # the first observation is the baseline
    assert endpoint.health == "ok"
    assert totals(endpoint) == (0, 0, 0)

    serve(16, 160, 80)
    poll(worker, endpoint)
    expected = [6, 60, 30]
    assert totals(endpoint) == tuple(expected)

    poll(worker, endpoint)  # a repeated poll of unchanged counters adds nothing
    assert totals(endpoint) == tuple(expected)

    server.fail("/metrics", status=500)
    poll(worker, endpoint)  # retried twice with backoff, then given up
    assert endpoint.health == "failing"
    assert endpoint.consecutive_failures == 3
    assert "HTTP 500" in endpoint.last_error
    assert totals(endpoint) == tuple(expected)

    server.clear_faults()
    server.garbage("/metrics")
    poll(worker, endpoint)
    assert endpoint.health == "failing"
    assert endpoint.last_error and "500" not in endpoint.last_error
    assert totals(endpoint) == tuple(expected)

    server.clear_faults()
    server.hang("/metrics", seconds=30)
    poll(worker, endpoint)
    assert "timed out" in endpoint.last_error
    assert totals(endpoint) == tuple(expected)

    server.clear_faults()
    serve(20, 200, 95)  # traffic served while we could not see it
    poll(worker, endpoint)
    expected = [20 - 10, 200 - 100, 95 - 50]
    assert endpoint.health == "ok"
    assert endpoint.consecutive_failures == 0
    assert totals(endpoint) == tuple(expected)

    # The server restarted (a new _created): its values count in full.
    serve(3, 30, 12, created=time.time() + 5)
    poll(worker, endpoint)
    expected = [expected[0] + 3, expected[1] + 30, expected[2] + 12]
    assert totals(endpoint) == tuple(expected)

    serve(5, 41, 20)
    poll(worker, endpoint)
    poll(worker, endpoint)
    expected = [expected[0] + 2, expected[1] + 11, expected[2] + 8]
    assert totals(endpoint) == tuple(expected)

    daily = DailyUsage.objects.filter(endpoint=endpoint).aggregate(r=Sum("requests"))
    assert daily["r"] == expected[0]
    assert DailyUsage.objects.filter(endpoint=endpoint).exclude(cost=0).exists()


def test_a_worker_stores_tgi_counters(worker: Finished, server: FakeServer) -> None:
    server.set_tgi(
        model="bigscience/bloom-560m", requests=4, input_tokens=40, generated_tokens=9
    )
    endpoint = ServingEndpointFactory(kind="tgi", base_url=server.url)
    poll(worker, endpoint)
    server.set_tgi(
        model="bigscience/bloom-560m", requests=7, input_tokens=70, generated_tokens=15
    )
    poll(worker, endpoint)
    poll(worker, endpoint)
    assert endpoint.health == "ok"
    assert totals(endpoint) == (3, 30, 6)
    assert UsageSample.objects.get(endpoint=endpoint).model == "bigscience/bloom-560m"


def test_a_worker_upserts_openai_buckets_so_repeated_polls_never_count_twice(
    worker: Finished, server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    pages = [
        fixture_json("openai_usage_page1.json"),
        fixture_json("openai_usage_page2.json"),
    ]
    server.require_key = SECRET
    server.json_pages("/v1/organization/usage/completions", pages)
    server.json("/v1/organization/costs", fixture_json("openai_costs.json"))
    endpoint = ServingEndpointFactory(
        kind="openai",
        location="external",
        base_url=server.url,
        api_key_encrypted=crypto.encrypt(SECRET),
        input_usd_per_mtok=Decimal("1"),
        output_usd_per_mtok=Decimal("2"),
    )
    results = [
        r for page in pages for bucket in page["data"] for r in bucket["results"]
    ]
    expected = (
        sum(r["num_model_requests"] for r in results),
        sum(r["input_tokens"] for r in results),
        sum(r["output_tokens"] for r in results),
    )

    poll(worker, endpoint)
    poll(worker, endpoint)

    assert endpoint.health == "ok", endpoint.last_error
    assert totals(endpoint) == expected
    daily = DailyUsage.objects.filter(endpoint=endpoint).aggregate(r=Sum("requests"))
    assert daily["r"] == expected[0]
    billed = UsageSample.objects.filter(endpoint=endpoint, measure="cost")
    assert billed.exists()  # kept for reconciliation, outside the rollup
    assert all(
        request.headers.get("authorization") == f"Bearer {SECRET}"
        for request in server.requests
    )
    assert SECRET not in caplog.text


@pytest.mark.parametrize(
    ("kind", "routes"),
    [
        (
            "anthropic",
            {
                "/v1/organizations/usage_report/messages": [
                    "anthropic_usage_page1.json",
                    "anthropic_usage_page2.json",
                ],
                "/v1/organizations/cost_report": [
                    "anthropic_cost_page1.json",
                    "anthropic_cost_page2.json",
                ],
            },
        ),
        (
            "litellm",
            {
                "/user/daily/activity": [
                    "litellm_daily_activity_page1.json",
                    "litellm_daily_activity_page2.json",
                ]
            },
        ),
    ],
)
def test_a_worker_stores_each_bucket_format_once_however_often_it_polls(
    worker: Finished, server: FakeServer, kind: str, routes: dict[str, list[str]]
) -> None:
    from datetime import UTC, datetime, timedelta

    from apps.core.http import make_client
    from apps.endpoints.collectors import get_collector

    for path, names in routes.items():
        server.json_pages(path, [fixture_json(name) for name in names])
    server.require_key = SECRET
    endpoint = ServingEndpointFactory(
        kind=kind,
        location="external",
        base_url=server.url,
        api_key_encrypted=crypto.encrypt(SECRET),
    )
    now = datetime.now(tz=UTC)
    with make_client(allowed_networks=["127.0.0.0/8"]) as client:
        readings = get_collector(kind).collect(
            client,
            base_url=server.url,
            api_key=SECRET,
            since=now - timedelta(days=7),
            until=now,
        )
    usage = [r for r in readings if r.measure == "usage"]

    for _ in range(3):
        poll(worker, endpoint)

    assert endpoint.health == "ok", endpoint.last_error
    assert totals(endpoint) == (
        sum(r.requests for r in usage),
        sum(r.input_tokens for r in usage),
        sum(r.output_tokens for r in usage),
    )
    assert UsageSample.objects.filter(endpoint=endpoint).count() == len(readings)


def test_the_beat_tick_fans_out_one_poll_per_due_endpoint(
    worker: Finished, server: FakeServer
) -> None:
    server.set_vllm(model=MODEL, requests=1, prompt_tokens=1, generation_tokens=1)
    due = [ServingEndpointFactory(base_url=server.url) for _ in range(3)]
    paused = ServingEndpointFactory(base_url=server.url, enabled=False)

    seen: list[str] = []
    original = worker.__call__

    def track(task_id: str | None = None, state: str | None = None, **kw: Any) -> None:
        if task_id:
            seen.append(task_id)
        original(task_id=task_id, state=state, **kw)

    task_postrun.connect(track, weak=False)
    try:
        assert tasks.collect_due_endpoints() == 3
        assert tasks.collect_due_endpoints() == 0  # claimed: not due again
        import time

        deadline = time.monotonic() + 20
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        task_postrun.disconnect(track)
    assert len(seen) == 3, f"the worker finished {len(seen)} of the 3 polls"
    for endpoint in due:
        endpoint.refresh_from_db()
        assert endpoint.health == "ok"
        assert endpoint.next_poll_at is not None
    paused.refresh_from_db()
    assert paused.last_polled_at is None


def test_a_database_error_in_a_poll_is_retried_on_a_fresh_connection(
    worker: Finished, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    from apps.endpoints.services import collection

    endpoint = ServingEndpointFactory(base_url=server.url)
    server.set_vllm(model=MODEL, requests=1, prompt_tokens=10, generation_tokens=5)
    poll(worker, endpoint)  # baseline
    server.set_vllm(model=MODEL, requests=4, prompt_tokens=70, generation_tokens=9)
    real = collection.store_batch
    failures = iter(
        [OperationalError("terminating connection due to administrator command")]
    )

    def store_batch(fetches):  # type: ignore[no-untyped-def]
        error = next(failures, None)
        if error is not None:
            raise error
        return real(fetches)

    monkeypatch.setattr(collection, "store_batch", store_batch)
    poll(worker, endpoint)
    assert endpoint.health == "ok"
    assert totals(endpoint) == (3, 60, 4)
