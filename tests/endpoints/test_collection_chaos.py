"""Bounded chaos: a real worker polls 50 loopback vLLM servers through faults.

While traffic keeps raising every server's counters, the worker is SIGKILLed
mid-poll, the broker is restarted empty, the database drops the worker's
connections (PostgreSQL only), manual polls overlap the worker's, and one
endpoint is re-pointed to a server with a long history. Afterwards every token
served since each endpoint's first poll is in the samples, the rollups, the
usage API and the spend API exactly once, and every endpoint was polled again
within two poll intervals of each fault ending (issue 11, "Must show").

The ground truth is what the test's servers served: traffic starts only once
every endpoint has its baseline (the first poll), and every request is sized in
whole cents at the endpoints' prices, so costs are exact too.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import time
import uuid
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from apps.endpoints import services
from apps.endpoints.models import DailyUsage, ServingEndpoint, UsageSample
from tests.celery_support import fresh_pools
from tests.endpoints.chaos import (
    ZERO,
    Broker,
    Counters,
    Ticker,
    Traffic,
    Upstream,
    WorkerProcess,
    postgres_url,
    sqlite_file_database,
    stop_all,
    terminate_other_connections,
)

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.celery,
    pytest.mark.django_db(transaction=True),
]

#: Seconds between polls of each endpoint (the form's minimum is 15; the
#: scheduler reads whatever the row says).
INTERVAL = 4
ENDPOINTS = 50
SLOW = (0, 1, 2)  # answer a second late, so their polls can be caught in flight
SLOW_DELAY = 1.0
REPOINTED = ENDPOINTS - 1
#: USD per million tokens: 1,000 prompt or 500 generation tokens cost one cent.
INPUT_PRICE, OUTPUT_PRICE = Decimal(10), Decimal(20)
MILLION = Decimal(1_000_000)


def expected_cost(served: Counters) -> Decimal:
    return (
        served.prompt_tokens * INPUT_PRICE + served.generation_tokens * OUTPUT_PRICE
    ) / MILLION


def wait_until(
    condition: Callable[[], bool], *, timeout: float, what: str, step: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


def successes_after(
    ids: list[int], since: datetime, *, bound: timedelta
) -> dict[int, datetime]:
    """The first ``last_success_at`` after ``since`` seen for each endpoint.

    Watches until every endpoint has one or ``bound`` plus as much again has
    passed, so a laggard's real recovery time is reported too.
    """
    first: dict[int, datetime] = {}
    deadline = since + 2 * bound
    while len(first) < len(ids) and timezone.now() < deadline:
        rows = ServingEndpoint.objects.filter(
            pk__in=ids, last_success_at__gt=since
        ).values_list("pk", "last_success_at")
        for pk, at in rows:
            first.setdefault(pk, at)
        time.sleep(0.25)
    return first


class Chaos:
    """The running system: servers, broker, worker, beat and traffic."""

    def __init__(self, root: Path, database_url: str, broker: Broker) -> None:
        self.root = root
        self.database_url = database_url
        self.broker = broker
        self.journal: list[str] = []
        self.failures: list[str] = []
        self._started = time.monotonic()
        self._workers = 0
        self.worker: WorkerProcess | None = None
        self.ticker = Ticker(every=0.5)
        self.traffic: Traffic | None = None

    def stop(self) -> None:
        """Stop beat, traffic and the worker (again is harmless)."""
        self.ticker.stop()
        if self.traffic is not None:
            self.traffic.stop()
        if self.worker is not None:
            self.worker.stop()

    def expect(
        self, condition: Callable[[], bool], *, timeout: float, what: str
    ) -> bool:
        """Wait for ``condition``; on a timeout record a failure and go on."""
        try:
            wait_until(condition, timeout=timeout, what=what)
        except AssertionError as exc:
            self.failures.append(str(exc))
            self.note(str(exc))
            return False
        return True

    def note(self, text: str) -> None:
        line = f"{time.monotonic() - self._started:6.1f} s  {text}"
        self.journal.append(line)
        print(line)

    def start_worker(self, queue: str) -> WorkerProcess:
        self._workers += 1
        worker = WorkerProcess(
            name=f"chaos{self._workers}-{uuid.uuid4().hex[:6]}",
            queue=queue,
            env={
                **self.broker.worker_env(),
                "DATABASE_URL": self.database_url,
                "ENDPOINT_ALLOWED_NETWORKS": "127.0.0.0/8",
                "ENDPOINT_TIMEOUT_SECONDS": "5",
                "LOG_LEVEL": "WARNING",
            },
            log=self.root / f"worker{self._workers}.log",
        )
        worker.wait_for(" ready.", timeout=60)
        self.worker = worker
        return worker

    def check_recovery(self, fault: str, ids: list[int], ended: datetime) -> None:
        """Every endpoint polled successfully within two intervals of ``ended``."""
        bound = timedelta(seconds=2 * INTERVAL)
        first = successes_after(ids, ended, bound=bound)
        late = {
            pk: first.get(pk)
            for pk in ids
            if pk not in first or first[pk] > ended + bound
        }
        self.note(
            f"{fault}: {len(ids) - len(late)}/{len(ids)} polled within 2 intervals"
        )
        if late:
            shown = ", ".join(
                f"{pk}: "
                + (
                    f"+{(at - ended).total_seconds():.1f} s"
                    if at
                    else f"not in {2 * bound.total_seconds():.0f} s"
                )
                for pk, at in sorted(late.items())[:15]
            )
            self.failures.append(
                f"after {fault}, {len(late)} of {len(ids)} endpoints were not polled "
                f"within 2 x {INTERVAL} s of the fault ending ({shown})"
            )


@contextlib.contextmanager
def celery_app_on(broker: Broker) -> Iterator[str]:
    """Point this process's Celery app at ``broker``; yields the poll queue's name."""
    from portal.celery import app

    saved = {
        "broker_url": app.conf.get("broker_url"),
        "broker_transport_options": app.conf.get("broker_transport_options"),
    }
    # The AMQP helper caches its queues on first use; a worker started later in
    # this session must not inherit the ones this test used.
    amqp = app.__dict__.get("amqp")
    environ = os.environ.get("CELERY_BROKER_URL")
    if broker.redis:
        # Celery reads this variable before its settings.
        os.environ["CELERY_BROKER_URL"] = broker.url
        app.conf.broker_url = broker.url
    else:
        app.conf.broker_transport_options = broker.transport_options
    fresh_pools(app)
    route = app.amqp.router.route({}, "apps.endpoints.tasks.collect_endpoint_usage")
    try:
        yield route["queue"].name
    finally:
        for key, value in saved.items():
            app.conf[key] = value
        if amqp is None:
            app.__dict__.pop("amqp", None)
        else:
            app.__dict__["amqp"] = amqp
        if environ is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = environ
        fresh_pools(app)


@contextlib.contextmanager
def worker_database(root: Path) -> Iterator[str]:
    """A URL for the worker to reach this test's database."""
    if connection.vendor == "sqlite":
        with sqlite_file_database(root / "chaos.sqlite3") as url:
            yield url
    else:
        yield postgres_url()


def stored(endpoint_ids: list[int]) -> dict[int, tuple[Counters, Decimal]]:
    rows = (
        UsageSample.objects.filter(
            endpoint_id__in=endpoint_ids, measure=UsageSample.Measure.USAGE
        )
        .values("endpoint_id")
        .annotate(
            r=Sum("requests"),
            i=Sum("input_tokens"),
            o=Sum("output_tokens"),
            c=Sum("cost"),
        )
    )
    return {
        row["endpoint_id"]: (
            Counters(row["r"] or 0, row["i"] or 0, row["o"] or 0),
            row["c"] or Decimal(0),
        )
        for row in rows
    }


def rolled_up(endpoint_ids: list[int]) -> dict[int, tuple[Counters, Decimal]]:
    rows = (
        DailyUsage.objects.filter(endpoint_id__in=endpoint_ids)
        .values("endpoint_id")
        .annotate(
            r=Sum("requests"),
            i=Sum("input_tokens"),
            o=Sum("output_tokens"),
            c=Sum("cost"),
        )
    )
    return {
        row["endpoint_id"]: (
            Counters(row["r"] or 0, row["i"] or 0, row["o"] or 0),
            row["c"] or Decimal(0),
        )
        for row in rows
    }


def all_pages(api_client: Any, url: str, params: dict[str, Any]) -> list[dict]:
    rows: list[dict] = []
    page = 1
    while True:
        response = api_client.get(url, {**params, "page": page, "page_size": 200})
        assert response.status_code == 200, response.content[:500]
        body = response.json()
        rows += body["results"]
        if not body["next"]:
            return rows
        page += 1


def usage_api(api_client: Any) -> dict[int, tuple[Counters, Decimal]]:
    totals: dict[int, tuple[Counters, Decimal]] = defaultdict(
        lambda: (ZERO, Decimal(0))
    )
    for row in all_pages(api_client, "/api/v1/usage/", {}):
        counters, cost = totals[row["endpoint"]]
        totals[row["endpoint"]] = (
            counters
            + Counters(row["requests"], row["input_tokens"], row["output_tokens"]),
            cost + Decimal(str(row["cost"] or 0)),
        )
    return dict(totals)


def spend_api(api_client: Any) -> dict[str, tuple[Counters, Decimal]]:
    totals: dict[str, tuple[Counters, Decimal]] = defaultdict(
        lambda: (ZERO, Decimal(0))
    )
    params = {"group_by": "model", "period": "day"}
    for row in all_pages(api_client, "/api/v1/spend/", params):
        counters, cost = totals[row["key"]]
        totals[row["key"]] = (
            counters
            + Counters(row["requests"], row["input_tokens"], row["output_tokens"]),
            cost + Decimal(str(row["cost"] or 0)),
        )
    return dict(totals)


def stored_prompt_tokens(endpoint_id: int) -> int:
    found = stored([endpoint_id]).get(endpoint_id)
    return found[0].prompt_tokens if found else 0


def overlap_manual_polls(upstream: Upstream, endpoint_id: int, *, rounds: int) -> int:
    """Run ``collect_usage --endpoint`` while the worker's poll of it is in flight.

    Returns how many manual polls started during a worker poll.
    """
    overlapped = 0
    try:
        for _ in range(rounds):
            with contextlib.suppress(AssertionError):
                wait_until(
                    lambda: upstream.in_flight > 0,
                    timeout=2 * INTERVAL,
                    what="a worker poll in flight",
                    step=0.01,
                )
                overlapped += 1
            call_command(
                "collect_usage",
                "--endpoint",
                str(endpoint_id),
                stdout=io.StringIO(),
                stderr=io.StringIO(),
            )
    finally:
        connection.close()  # this thread's own
    return overlapped


def test_usage_stays_exact_and_every_endpoint_recovers_through_worker_broker_and_database_faults(
    settings: Any, dave: Any, api_client: Any, tmp_path: Path
) -> None:
    settings.ENDPOINT_TIMEOUT_SECONDS = 5.0  # the slow servers answer within it
    from portal.celery import app

    use_redis = str(app.conf.broker_url).startswith("redis")
    if use_redis and not shutil.which("redis-server"):
        warnings.warn(
            "redis-server is not on the PATH: the chaos test uses a filesystem "
            "broker instead of a Redis of its own.",
            stacklevel=1,
        )
        use_redis = False

    # Upstream n serves model chaos/model-n; the last one is the server the
    # re-pointed endpoint moves to, with a long history of its own.
    upstreams = [
        Upstream(
            model=f"chaos/model-{n:02d}",
            start=Counters(100 + n, 1000 * (200 + n), 500 * (100 + n)),
            delay=SLOW_DELAY if n in SLOW else 0.0,
        )
        for n in range(ENDPOINTS)
    ]
    history = Upstream(
        model=upstreams[REPOINTED].model,
        start=Counters(48_000, 1000 * 52_000, 500 * 31_000),
    )
    upstreams.append(history)
    broker = Broker(tmp_path, redis=use_redis)
    try:
        with worker_database(tmp_path) as database_url, celery_app_on(broker) as queue:
            chaos = Chaos(tmp_path, database_url, broker)
            try:
                run_chaos(chaos, upstreams, queue, dave, api_client)
            finally:
                chaos.stop()
    finally:
        broker.close()
        stop_all(upstreams)


def run_chaos(
    chaos: Chaos, upstreams: list[Upstream], queue: str, dave: Any, api_client: Any
) -> None:
    history = upstreams[ENDPOINTS]
    chaos.note(f"database {connection.vendor}, broker {chaos.broker.url}")
    endpoints = [
        services.save_endpoint(
            endpoint=None,
            fields={
                "name": f"Chaos {n:02d}",
                "kind": "vllm",
                "base_url": upstream.url,
                "input_usd_per_mtok": INPUT_PRICE,
                "output_usd_per_mtok": OUTPUT_PRICE,
            },
            by=dave,
        )
        for n, upstream in enumerate(upstreams[:ENDPOINTS])
    ]
    ids = [endpoint.pk for endpoint in endpoints]
    ServingEndpoint.objects.filter(pk__in=ids).update(poll_interval_seconds=INTERVAL)

    worker = chaos.start_worker(queue)
    chaos.ticker.start()
    chaos.note("worker ready, beat ticking")
    wait_until(
        lambda: (
            not ServingEndpoint.objects.filter(
                pk__in=ids, last_success_at__isnull=True
            ).exists()
        ),
        timeout=60,
        what="every endpoint's first poll (its baseline)",
    )
    baseline = [upstream.counters for upstream in upstreams]
    chaos.traffic = traffic = Traffic(upstreams)
    traffic.pause(ENDPOINTS)  # the history server idles until it is polled
    traffic.start()
    chaos.note("baselines stored; traffic flowing")
    time.sleep(INTERVAL)

    # 1. SIGKILL the worker while it waits on a slow server.
    wait_until(
        lambda: any(upstreams[n].in_flight for n in SLOW),
        timeout=4 * INTERVAL,
        what="a poll of a slow server in flight",
        step=0.02,
    )
    worker.kill()
    chaos.note("worker SIGKILLed mid-poll")
    worker = chaos.start_worker(queue)
    ended = timezone.now()
    chaos.note("new worker ready")
    chaos.check_recovery("a SIGKILLed worker", ids, ended)

    # 2. Restart the broker empty while polls are queued.
    with contextlib.suppress(AssertionError):
        wait_until(
            lambda: chaos.broker.queued() >= 3,
            timeout=2 * INTERVAL,
            what="queued polls",
            step=0.02,
        )
    queued = chaos.broker.queued()
    offset = len(worker.output())
    chaos.broker.restart_empty()
    chaos.note(f"broker restarted empty ({queued} messages lost)")
    if chaos.broker.redis:
        worker.wait_for("Connected to redis", after=offset, timeout=30)
        chaos.note("worker reconnected")
    chaos.check_recovery("a broker restarted empty", ids, timezone.now())

    # 3. Drop every database connection but the test's own, again and again.
    if connection.vendor == "postgresql":
        killed = 0
        for _ in range(6):
            killed += terminate_other_connections()
            time.sleep(0.3)
        ended = timezone.now()
        chaos.note(f"{killed} database connections terminated")
        chaos.check_recovery("killed database connections", ids, ended)
    else:
        reason = (
            "Skipped the killed-database-connections phase: SQLite has no server "
            "connections to kill (run with DATABASE_URL=postgres://...)."
        )
        chaos.note(reason)
        warnings.warn(reason, stacklevel=1)

    # 4. Re-point an endpoint to a server with a long history.
    moved = ids[REPOINTED]
    traffic.pause(REPOINTED)
    before_move = upstreams[REPOINTED].counters - baseline[REPOINTED]
    chaos.expect(
        lambda: stored_prompt_tokens(moved) >= before_move.prompt_tokens,
        timeout=6 * INTERVAL,
        what="the old server's last counters stored",
    )
    services.save_endpoint(
        endpoint=ServingEndpoint.objects.get(pk=moved),
        fields={"base_url": history.url},
        by=dave,
    )
    chaos.note("endpoint re-pointed")
    chaos.expect(
        lambda: (
            history.first_scrape_at is not None
            and ServingEndpoint.objects.filter(
                pk=moved,
                last_success_at__gt=datetime.fromtimestamp(
                    history.first_scrape_at, tz=UTC
                ),
            ).exists()
        ),
        timeout=6 * INTERVAL,
        what="a stored poll of the new server",
    )
    history_baseline = history.counters
    traffic.resume(ENDPOINTS)
    chaos.note("new server's baseline stored; its traffic flowing")

    # 5. Manual polls of the slow endpoints while the worker's are in flight.
    with ThreadPoolExecutor(max_workers=len(SLOW)) as pool:
        futures = [
            pool.submit(overlap_manual_polls, upstreams[n], ids[n], rounds=2)
            for n in SLOW
        ]
        overlapped = sum(future.result() for future in futures)
    chaos.note(f"manual polls overlapped {overlapped} worker polls")
    if not overlapped:
        chaos.failures.append("no manual poll overlapped a worker poll")

    # Settle: traffic stops; two full rounds of polls read the last values.
    traffic.stop()
    for round_ in ("first", "second"):
        mark = timezone.now()
        if not chaos.expect(
            lambda mark=mark: (
                not ServingEndpoint.objects.filter(
                    pk__in=ids, last_success_at__lte=mark
                ).exists()
            ),
            timeout=4 * INTERVAL,
            what=f"the {round_} poll of every endpoint after traffic stopped",
        ):
            break
        chaos.note(f"{round_} round of polls after traffic stopped")
    chaos.stop()
    chaos.note("settled; worker stopped")

    served = {ids[n]: upstreams[n].counters - baseline[n] for n in range(ENDPOINTS)}
    served[moved] = before_move + (history.counters - history_baseline)
    models = {ids[n]: upstreams[n].model for n in range(ENDPOINTS)}
    api_client.force_authenticate(dave)
    by_model = spend_api(api_client)
    views = {
        "samples": stored(ids),
        "daily rollups": rolled_up(ids),
        "usage API": usage_api(api_client),
        "spend API": {pk: by_model[m] for pk, m in models.items() if m in by_model},
    }
    problems = list(chaos.failures)
    for view, totals in views.items():
        wrong = []
        for pk in ids:
            truth = (served[pk], expected_cost(served[pk]))
            got = totals.get(pk, (ZERO, Decimal(0)))
            if got != truth:
                wrong.append(
                    f"  endpoint {pk} ({models[pk]}): served {truth[0]} costing "
                    f"${truth[1]}; {view} say {got[0]} costing ${got[1]}"
                )
        if wrong:
            problems.append(
                f"{view}: {len(wrong)} of {len(ids)} endpoints wrong\n"
                + "\n".join(wrong[:10])
            )
    total = sum((served[pk] for pk in ids), start=ZERO)
    chaos.note(
        f"served {total.prompt_tokens + total.generation_tokens:,} tokens in "
        f"{total.requests:,} requests to {len(ids)} endpoints"
    )
    assert not problems, "\n".join([*problems, "journal:", *chaos.journal])
