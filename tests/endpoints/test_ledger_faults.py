"""Each fault the collector's fault injection found, reproduced: the ledger stays exact.

Loopback vLLM servers, the real storage path (and the real command where a test is
about it); PostgreSQL in CI. Expected totals are worked out by hand from the
counters the fake servers serve.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connections
from django.db.models import Sum
from django.utils import timezone

from apps.catalogue.models import CatalogModel
from apps.endpoints import services
from apps.endpoints.collectors import Reading
from apps.endpoints.models import (
    CounterState,
    DailyUsage,
    PollEvent,
    ServingEndpoint,
    UsageSample,
)
from apps.usecases.models import AuditEvent
from tests.factories import ServingEndpointFactory
from tests.servers import FakeServer, RecordedRequest, Reply

MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def tokens(endpoint: ServingEndpoint) -> tuple[int, int, int]:
    sums = UsageSample.objects.filter(endpoint=endpoint).aggregate(
        r=Sum("requests"), i=Sum("input_tokens"), o=Sum("output_tokens")
    )
    return (sums["r"] or 0, sums["i"] or 0, sums["o"] or 0)


def serve(server: FakeServer, requests: int, prompt: int, generation: int) -> None:
    server.set_vllm(
        model=MODEL,
        requests=requests,
        prompt_tokens=prompt,
        generation_tokens=generation,
    )


def in_thread(target, **kwargs) -> threading.Thread:  # type: ignore[no-untyped-def]
    """A thread that gives its database connection back (pooled on PostgreSQL)."""

    def run() -> None:
        try:
            target(**kwargs)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def wait_for_requests(server: FakeServer, count: int) -> None:
    for _ in range(500):
        if len([r for r in server.requests if r.path == "/metrics"]) >= count:
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"the server never got {count} scrapes")


@pytest.mark.django_db(transaction=True)
def test_a_manual_poll_overlapping_a_scheduled_one_never_counts_twice(
    server: FakeServer,
) -> None:
    # The scheduled poll's server answers late with a late snapshot; the manual
    # poll's server takes its snapshot early and answers later still. Stored in
    # that order, the manual poll's lower value looked like a restart.
    endpoint = ServingEndpointFactory(base_url=server.url)
    serve(server, 10, 1000, 500)
    assert services.collect_endpoint(endpoint_id=endpoint.pk).ok  # baseline
    ServingEndpoint.objects.filter(pk=endpoint.pk).update(next_poll_at=None)

    scheduled_go, manual_go = threading.Event(), threading.Event()
    scrapes = {"n": 0}

    def metrics(request: RecordedRequest) -> Reply:
        scrapes["n"] += 1
        if scrapes["n"] == 1:  # the scheduled poll: snapshot after a delay
            scheduled_go.wait(10)
            return server._metrics(request)
        snapshot = server._metrics(request)  # the manual poll: snapshot now
        manual_go.wait(10)
        return snapshot

    server.route("GET", "/metrics", metrics)
    serve(server, 15, 1500, 700)
    claims = services.claim_due_endpoints()
    scheduled = in_thread(
        services.collect_endpoint, endpoint_id=endpoint.pk, claim=claims[endpoint.pk]
    )
    wait_for_requests(server, 2)  # baseline + the scheduled poll
    manual = in_thread(
        lambda: call_command("collect_usage", "--endpoint", str(endpoint.pk))
    )
    wait_for_requests(server, 3)  # the manual poll has its snapshot (15, 1500, 700)
    serve(server, 20, 2000, 900)
    scheduled_go.set()
    scheduled.join(10)
    manual_go.set()
    manual.join(10)

    server.route("GET", "/metrics", server._metrics)
    assert services.collect_endpoint(endpoint_id=endpoint.pk).ok
    # Whatever was stored in between, the total is what the server served.
    assert tokens(endpoint) == (20 - 10, 2000 - 1000, 900 - 500)


def test_a_lower_value_from_the_same_process_is_a_late_reading_not_a_restart(
    db,  # type: ignore[no-untyped-def]
) -> None:
    endpoint = ServingEndpointFactory()
    started = timezone.now() - timedelta(hours=2)
    t0 = timezone.now()

    def reading(value: int) -> Reading:
        return Reading(
            series="vllm|model=m",
            model="m",
            mode="counter",
            requests=value,
            input_tokens=value * 10,
            started_at=started,
        )

    for seconds, value in [(0, 100), (60, 150), (120, 130), (180, 170)]:
        services.store_readings(
            endpoint_id=endpoint.pk,
            readings=[reading(value)],
            observed_at=t0 + timedelta(seconds=seconds),
        )
    assert tokens(endpoint) == (70, 700, 0)


@pytest.mark.django_db(transaction=True)
def test_a_lost_task_leaves_the_endpoint_due_again_after_one_interval() -> None:
    # The broker lost the task the beat fanned out: nothing ever reports back.
    endpoint = ServingEndpointFactory(poll_interval_seconds=60)
    now = timezone.now()
    assert services.claim_due_endpoints(now=now) == {
        endpoint.pk: ServingEndpoint.objects.get(pk=endpoint.pk).claim_token
    }
    assert services.claim_due_endpoints(now=now + timedelta(seconds=59)) == {}
    again = services.claim_due_endpoints(now=now + timedelta(seconds=60))
    assert list(again) == [endpoint.pk]


@pytest.mark.django_db(transaction=True)
def test_a_poll_taken_over_after_its_lease_stores_nothing(server: FakeServer) -> None:
    endpoint = ServingEndpointFactory(base_url=server.url, poll_interval_seconds=60)
    serve(server, 1, 10, 5)
    now = timezone.now()
    first = services.claim_due_endpoints(now=now)[endpoint.pk]
    second = services.claim_due_endpoints(now=now + timedelta(seconds=61))[endpoint.pk]
    assert services.collect_endpoint(endpoint_id=endpoint.pk, claim=second).ok
    serve(server, 5, 50, 25)
    late = services.collect_endpoint(endpoint_id=endpoint.pk, claim=first)
    assert not late.ok and late.message == services.SUPERSEDED
    state = CounterState.objects.get(endpoint=endpoint)
    assert (state.requests, state.input_tokens) == (1, 10)  # the late poll's 5 unseen


def test_a_transient_failure_keeps_the_claim_for_its_retry(
    server: FakeServer, db
) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory(base_url=server.url)
    server.fail("/metrics", status=503)
    claim = services.claim_due_endpoints()[endpoint.pk]
    with pytest.raises(services.TransientCollectionError):
        services.collect_endpoint(endpoint_id=endpoint.pk, claim=claim)
    assert services.renew_claim(endpoint_id=endpoint.pk, claim=claim)
    server.clear_faults()
    serve(server, 1, 1, 1)
    assert services.collect_endpoint(endpoint_id=endpoint.pk, claim=claim).ok
    assert ServingEndpoint.objects.get(pk=endpoint.pk).claim_token == ""


def test_a_bad_series_is_refused_alone_and_the_rest_is_stored(db) -> None:  # type: ignore[no-untyped-def]
    endpoints = ServingEndpointFactory.create_batch(3)
    t0 = timezone.now()

    def fetched(endpoint: ServingEndpoint, at: datetime, good: int, bad: float):  # type: ignore[no-untyped-def]
        return services.Fetched(
            endpoint.pk,
            at,
            readings=[
                Reading(series="good", model="m", mode="counter", input_tokens=good),
                Reading(
                    series="bad",
                    model="m",
                    mode="counter",
                    error="vllm:prompt_tokens_total reads 'abc'",
                ),
                Reading(series="negative", model="m", mode="counter", input_tokens=-5)
                if bad < 0
                else Reading(series="negative", model="m", mode="counter"),
            ],
        )

    services.store_batch([fetched(e, t0, 100, 0) for e in endpoints])
    stored = services.store_batch(
        [fetched(e, t0 + timedelta(minutes=1), 160, -1) for e in endpoints]
    )
    assert stored == {e.pk: 1 for e in endpoints}
    for endpoint in endpoints:
        endpoint.refresh_from_db()
        assert tokens(endpoint) == (0, 60, 0)
        assert endpoint.health == "ok"
        assert "abc" in endpoint.last_error and "-5" in endpoint.last_error
        assert (
            "Refused 2" in PollEvent.objects.filter(endpoint=endpoint).first().message
        )


@pytest.mark.django_db(transaction=True)
def test_re_pointing_an_endpoint_starts_a_new_baseline_and_is_audited(
    dave,  # type: ignore[no-untyped-def]
) -> None:
    with FakeServer() as old, FakeServer() as new:
        serve(old, 10, 100, 50)
        serve(new, 5000, 47_000, 900)  # a server with a long history of its own
        endpoint = ServingEndpointFactory(base_url=old.url)
        services.collect_endpoint(endpoint_id=endpoint.pk)
        serve(old, 12, 120, 60)
        services.collect_endpoint(endpoint_id=endpoint.pk)
        services.save_endpoint(endpoint=endpoint, fields={"base_url": new.url}, by=dave)
        services.collect_endpoint(endpoint_id=endpoint.pk)  # the new baseline
        serve(new, 5007, 47_700, 950)
        services.collect_endpoint(endpoint_id=endpoint.pk)
    assert tokens(endpoint) == (2 + 7, 20 + 700, 10 + 50)
    event = AuditEvent.objects.filter(kind="endpoint.changed").latest("pk")
    assert event.data["new_baseline"] is True
    assert event.data["before"] == {"base_url": old.url}


@pytest.mark.django_db(transaction=True)
def test_a_poll_of_the_old_server_in_flight_when_re_pointed_stores_nothing(
    dave,  # type: ignore[no-untyped-def]
) -> None:
    with FakeServer() as old, FakeServer() as new:
        serve(old, 10, 100, 50)
        serve(new, 1, 10, 5)
        endpoint = ServingEndpointFactory(base_url=old.url)
        services.collect_endpoint(endpoint_id=endpoint.pk)
        ServingEndpoint.objects.filter(pk=endpoint.pk).update(next_poll_at=None)
        claim = services.claim_due_endpoints()[endpoint.pk]
        stale = services.fetch(
            ServingEndpoint.objects.get(pk=endpoint.pk),
            now=timezone.now(),
            client=None,
            claim=claim,
        )
        services.save_endpoint(endpoint=endpoint, fields={"base_url": new.url}, by=dave)
        assert services.store_batch([stale]) == {}
        services.collect_endpoint(endpoint_id=endpoint.pk)
        serve(new, 3, 30, 15)
        services.collect_endpoint(endpoint_id=endpoint.pk)
    assert tokens(endpoint) == (2, 20, 10)


def test_a_series_that_appears_later_counts_from_its_start(db) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory()
    t0 = timezone.now() - timedelta(minutes=10)

    def at(minutes: int) -> datetime:
        return t0 + timedelta(minutes=minutes)

    first = Reading(
        series="a", model="a", mode="counter", input_tokens=5, started_at=at(-60)
    )
    services.store_readings(
        endpoint_id=endpoint.pk, readings=[first], observed_at=at(0)
    )
    # A second model was loaded two minutes after that poll and served 740 tokens.
    born = Reading(
        series="b", model="b", mode="counter", input_tokens=740, started_at=at(2)
    )
    # One that existed before our last look but that we never saw is a baseline.
    unseen = Reading(
        series="c", model="c", mode="counter", input_tokens=99, started_at=at(-30)
    )
    services.store_readings(
        endpoint_id=endpoint.pk, readings=[first, born, unseen], observed_at=at(5)
    )
    assert tokens(endpoint) == (0, 740, 0)


def test_an_outage_across_midnight_is_spread_over_the_hours_it_covers(db) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory()
    before = datetime(2026, 11, 30, 22, 30, tzinfo=UTC)
    after = datetime(2026, 12, 1, 1, 30, tzinfo=UTC)  # three hours later

    def reading(value: int) -> Reading:
        return Reading(
            series="s",
            model="m",
            mode="counter",
            input_tokens=value,
            requests=value // 100,
        )

    services.store_readings(
        endpoint_id=endpoint.pk, readings=[reading(0)], observed_at=before
    )
    services.store_readings(
        endpoint_id=endpoint.pk, readings=[reading(6000)], observed_at=after
    )
    by_hour = dict(
        UsageSample.objects.filter(endpoint=endpoint).values_list(
            "bucket_start", "input_tokens"
        )
    )
    # 30 minutes, then two whole hours, then 30 minutes: 1/6, 2/6, 2/6, 1/6.
    assert by_hour == {
        datetime(2026, 11, 30, 22, tzinfo=UTC): 1000,
        datetime(2026, 11, 30, 23, tzinfo=UTC): 2000,
        datetime(2026, 12, 1, 0, tzinfo=UTC): 2000,
        datetime(2026, 12, 1, 1, tzinfo=UTC): 1000,
    }
    daily = dict(
        DailyUsage.objects.filter(endpoint=endpoint).values_list("date", "input_tokens")
    )
    assert daily == {
        datetime(2026, 11, 30).date(): 3000,
        datetime(2026, 12, 1).date(): 3000,
    }
    assert (
        sum(
            UsageSample.objects.filter(endpoint=endpoint).values_list(
                "requests", flat=True
            )
        )
        == 60
    )


def test_spreading_hands_out_every_unit_exactly() -> None:
    start = datetime(2026, 1, 1, 0, 20, tzinfo=UTC)
    end = datetime(2026, 1, 1, 3, 10, tzinfo=UTC)
    parts = services.spread((7, 1, 0, 1_000_003), start, end)
    assert [moment.hour for moment, _ in parts] == [0, 1, 2, 3]
    assert tuple(map(sum, zip(*(p for _, p in parts), strict=True))) == (
        7,
        1,
        0,
        1_000_003,
    )


def test_rollups_are_updated_in_place_not_deleted_and_re_inserted(db) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory()
    t0 = timezone.now().replace(minute=0, second=0, microsecond=0)
    ids: set[int] = set()
    for minute, value in enumerate([0, 10, 20, 20, 35]):
        services.store_readings(
            endpoint_id=endpoint.pk,
            readings=[
                Reading(series="s", model="m", mode="counter", input_tokens=value)
            ],
            observed_at=t0 + timedelta(minutes=minute),
        )
        ids |= set(
            DailyUsage.objects.filter(endpoint=endpoint).values_list("pk", flat=True)
        )
    assert len(ids) == 1
    assert DailyUsage.objects.get(endpoint=endpoint).input_tokens == 35


def test_pruning_drops_old_samples_and_keeps_daily_rollups(db, settings) -> None:  # type: ignore[no-untyped-def]
    settings.USAGE_SAMPLE_RETENTION_DAYS = 400
    endpoint = ServingEndpointFactory(kind="openai", location="external")
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    old = now - timedelta(days=401)
    recent = now - timedelta(days=399)
    readings = [
        Reading(
            series="openai.usage|model=gpt-4o",
            model="gpt-4o",
            mode="bucket",
            input_tokens=tokens_in,
            bucket_start=moment,
            bucket_end=moment + timedelta(hours=1),
        )
        for moment, tokens_in in [(old, 11), (recent, 22)]
    ]
    services.store_readings(endpoint_id=endpoint.pk, readings=readings, observed_at=now)
    assert services.prune_usage_samples(now=now) == 1
    assert list(UsageSample.objects.values_list("input_tokens", flat=True)) == [22]
    assert sorted(DailyUsage.objects.values_list("input_tokens", flat=True)) == [11, 22]


def test_cache_writes_and_batch_usage_are_priced_at_their_own_rates(db) -> None:  # type: ignore[no-untyped-def]
    CatalogModel.objects.create(
        key="claude-test",
        name="Claude test",
        provider="Anthropic",
        capability_tier="frontier",
        context_window=200_000,
        input_usd_per_mtok=Decimal("3"),
        output_usd_per_mtok=Decimal("15"),
        cached_input_usd_per_mtok=Decimal("0.3"),
        cache_write_usd_per_mtok=Decimal("3.75"),
        cache_write_1h_usd_per_mtok=Decimal("6"),
        batch_input_usd_per_mtok=Decimal("1.5"),
        batch_output_usd_per_mtok=Decimal("7.5"),
    )
    endpoint = ServingEndpointFactory(kind="anthropic", location="external")
    start = datetime(2026, 11, 1, 10, tzinfo=UTC)
    common = {"model": "claude-test", "mode": "bucket", "bucket_start": start}
    services.store_readings(
        endpoint_id=endpoint.pk,
        readings=[
            # 1M input: 200k uncached, 300k cache reads, 400k 5-min and 100k 1-h writes.
            Reading(
                series="std",
                input_tokens=1_000_000,
                cached_input_tokens=300_000,
                cache_write_tokens=400_000,
                cache_write_1h_tokens=100_000,
                output_tokens=100_000,
                requests=10,
                **common,
            ),
            Reading(
                series="batch",
                input_tokens=1_000_000,
                output_tokens=1_000_000,
                requests=10,
                service_tier="batch",
                **common,
            ),
        ],
        observed_at=start + timedelta(hours=2),
    )
    cost = dict(UsageSample.objects.values_list("series", "cost"))
    assert cost["std"] == Decimal("0.6") + Decimal("0.09") + Decimal("1.5") + Decimal(
        "0.6"
    ) + Decimal("1.5")
    assert cost["batch"] == Decimal("1.5") + Decimal("7.5")
    stored = UsageSample.objects.get(series="std")
    assert (stored.cache_write_tokens, stored.cache_write_1h_tokens) == (
        400_000,
        100_000,
    )
    assert UsageSample.objects.get(series="batch").service_tier == "batch"


def test_a_server_trickling_its_status_line_and_headers_is_cut_at_the_deadline() -> (
    None
):
    import socket

    from apps.core.http import make_client
    from apps.endpoints.collectors import CollectorError
    from apps.endpoints.collectors.vllm import VllmCollector

    head = b"HTTP/1.1 200 OK\r\n" + b"x-padding: " + b"a" * 200 + b"\r\n\r\n"
    sent = {"bytes": 0}
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in head:
                if stop.wait(0.1):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return  # the client gave up: what we want
                sent["bytes"] += 1

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    try:
        # Each read gets 1 s; a byte comes every 0.1 s, so only a deadline stops it.
        with (
            make_client(timeout=1.0, allowed_networks=["127.0.0.0/8"]) as client,
            pytest.raises(CollectorError) as error,
        ):
            VllmCollector().collect(
                client,
                base_url=f"http://127.0.0.1:{port}",
                api_key=None,
                since=timezone.now() - timedelta(minutes=1),
                until=timezone.now(),
            )
    finally:
        stop.set()
        listener.close()
    assert "did not answer within 2 s" in error.value.message
    assert error.value.transient
    assert sent["bytes"] < len(head)
