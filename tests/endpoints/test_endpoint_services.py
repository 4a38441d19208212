"""Collection services: deltas, idempotence, health, claiming, spend and rollups."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import OperationalError, connections
from django.db.models import Sum
from django.utils import timezone

from apps.endpoints import services
from apps.endpoints.collectors import Reading
from apps.endpoints.models import DailyUsage, ServingEndpoint, UsageSample
from tests.factories import (
    EndpointMappingFactory,
    ServingEndpointFactory,
    UseCaseFactory,
)
from tests.servers import FakeServer

MODEL = "meta-llama/Llama-3.1-8B-Instruct"


def counter(
    requests: int, tokens_in: int, tokens_out: int, series: str = "vllm|model=m"
) -> Reading:
    return Reading(
        series=series,
        model="m",
        mode="counter",
        requests=requests,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
    )


def usage(endpoint: ServingEndpoint) -> tuple[int, int, int]:
    sums = UsageSample.objects.filter(endpoint=endpoint).aggregate(
        r=Sum("requests"), i=Sum("input_tokens"), o=Sum("output_tokens")
    )
    return (sums["r"] or 0, sums["i"] or 0, sums["o"] or 0)


def test_it_stores_counter_increases_and_counts_a_reset_in_full(db) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory()
    t0 = timezone.now()
    for seconds, reading in [
        (0, counter(10, 100, 50)),  # baseline
        (60, counter(15, 150, 70)),  # +5 +50 +20
        (120, counter(15, 150, 70)),  # repeated: nothing
        (180, counter(2, 30, 10)),  # restart: all of it
    ]:
        services.store_readings(
            endpoint_id=endpoint.pk,
            readings=[reading],
            observed_at=t0 + timedelta(seconds=seconds),
        )
    assert usage(endpoint) == (5 + 2, 50 + 30, 20 + 10)


def test_an_older_observation_arriving_late_is_ignored(db) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory()
    t0 = timezone.now()
    services.store_readings(
        endpoint_id=endpoint.pk, readings=[counter(10, 10, 10)], observed_at=t0
    )
    services.store_readings(
        endpoint_id=endpoint.pk,
        readings=[counter(20, 20, 20)],
        observed_at=t0 + timedelta(minutes=2),
    )
    # A slow poll that read the counters in between stores last: not a reset.
    services.store_readings(
        endpoint_id=endpoint.pk,
        readings=[counter(15, 15, 15)],
        observed_at=t0 + timedelta(minutes=1),
    )
    assert usage(endpoint) == (10, 10, 10)


def test_a_later_start_time_means_a_restart_even_when_counters_grew(db) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory()
    t0 = timezone.now()
    first = Reading(
        series="s",
        model="m",
        mode="counter",
        requests=10,
        started_at=t0 - timedelta(hours=1),
    )
    second = Reading(series="s", model="m", mode="counter", requests=12, started_at=t0)
    services.store_readings(endpoint_id=endpoint.pk, readings=[first], observed_at=t0)
    services.store_readings(
        endpoint_id=endpoint.pk,
        readings=[second],
        observed_at=t0 + timedelta(minutes=1),
    )
    assert usage(endpoint)[0] == 12


def test_bucket_readings_overwrite_their_sample(db) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory(kind="openai", location="external")
    start = datetime(2026, 11, 1, 10, tzinfo=UTC)

    def bucket(requests: int) -> Reading:
        return Reading(
            series="openai.usage|model=gpt-4o",
            model="gpt-4o",
            mode="bucket",
            requests=requests,
            input_tokens=requests * 10,
            bucket_start=start,
            bucket_end=start + timedelta(hours=1),
        )

    for value in (3, 3, 7, 7):  # repeated, then revised by the provider
        services.store_readings(
            endpoint_id=endpoint.pk,
            readings=[bucket(value)],
            observed_at=timezone.now(),
        )
    assert UsageSample.objects.filter(endpoint=endpoint).count() == 1
    assert usage(endpoint) == (7, 70, 0)
    assert DailyUsage.objects.get(endpoint=endpoint).requests == 7


@pytest.mark.django_db(transaction=True)
def test_concurrent_stores_of_one_endpoint_never_double_count() -> None:
    endpoint = ServingEndpointFactory()
    t0 = timezone.now()
    services.store_readings(
        endpoint_id=endpoint.pk, readings=[counter(0, 0, 0)], observed_at=t0
    )
    barrier = threading.Barrier(8)
    later = t0 + timedelta(minutes=1)

    stored: list[bool] = []

    def store() -> None:
        barrier.wait()
        try:
            for _ in range(200):
                try:
                    services.store_readings(
                        endpoint_id=endpoint.pk,
                        readings=[counter(9, 90, 45)],
                        observed_at=later,
                    )
                except OperationalError:  # in-memory SQLite: "table is locked", no wait
                    time.sleep(0.01)
                else:
                    stored.append(True)
                    return
        finally:
            connections.close_all()

    threads = [threading.Thread(target=store) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stored) == 8  # every poll stored, one counted
    assert usage(endpoint) == (9, 90, 45)


def test_health_goes_stale_then_failing_then_ok(db, server: FakeServer) -> None:  # type: ignore[no-untyped-def]
    server.set_vllm(model=MODEL, requests=1)
    endpoint = ServingEndpointFactory(base_url=server.url)
    assert endpoint.display_health == "never"
    server.fail("/metrics", status=502)
    states = []
    for _ in range(3):
        with pytest.raises(services.TransientCollectionError):
            services.collect_endpoint(endpoint_id=endpoint.pk)
        endpoint.refresh_from_db()
        states.append(endpoint.health)
    assert states == ["stale", "stale", "failing"]
    assert "HTTP 502" in endpoint.last_error
    assert endpoint.poll_events.filter(ok=False).count() == 3
    server.clear_faults()
    assert services.collect_endpoint(endpoint_id=endpoint.pk).ok
    endpoint.refresh_from_db()
    assert (endpoint.health, endpoint.consecutive_failures, endpoint.last_error) == (
        "ok",
        0,
        "",
    )
    assert endpoint.display_health == "ok"
    ServingEndpoint.objects.filter(pk=endpoint.pk).update(
        last_success_at=timezone.now() - timedelta(hours=1)
    )
    endpoint.refresh_from_db()
    assert endpoint.display_health == "stale"  # polls stopped coming


def test_an_unreachable_endpoint_does_not_block_the_others(
    db, server: FakeServer, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.ENDPOINT_TIMEOUT_SECONDS = 0.3
    server.set_vllm(model=MODEL, requests=1)
    with FakeServer() as slow:
        slow.hang(seconds=30)
        good = ServingEndpointFactory(base_url=server.url)
        bad = ServingEndpointFactory(base_url=slow.url)
        results = services.collect_endpoints_inline(
            endpoint_ids=[bad.pk, good.pk], concurrency=1
        )
    assert [r.ok for r in results] == [False, True]
    assert results[0].transient and "timed out" in results[0].message


def test_claiming_is_exclusive(db) -> None:  # type: ignore[no-untyped-def]
    endpoints = ServingEndpointFactory.create_batch(3)
    ServingEndpointFactory(enabled=False)
    ServingEndpointFactory(next_poll_at=timezone.now() + timedelta(minutes=5))
    first = services.claim_due_endpoints()
    assert sorted(first) == sorted(e.pk for e in endpoints)
    assert services.claim_due_endpoints() == {}


def test_self_hosted_cost_is_spread_over_use_cases_by_tokens(db) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory(hourly_cost=Decimal("3"))
    a, b = UseCaseFactory(), UseCaseFactory()
    EndpointMappingFactory(endpoint=endpoint, model_name="a", use_case=a)
    EndpointMappingFactory(endpoint=endpoint, model_name="b", use_case=b)
    day = timezone.now().date() - timedelta(days=3)
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    readings = [
        Reading(
            series=f"x|{m}",
            model=m,
            mode="bucket",
            requests=1,
            input_tokens=tokens,
            bucket_start=start,
            bucket_end=start + timedelta(hours=1),
        )
        for m, tokens in (("a", 300), ("b", 100))
    ]
    services.store_readings(
        endpoint_id=endpoint.pk, readings=readings, observed_at=timezone.now()
    )
    rows = {
        r.use_case_id: r.cost
        for r in DailyUsage.objects.filter(endpoint=endpoint, date=day)
    }
    day_cost = Decimal("3") * 24
    assert rows == {a.pk: day_cost * 3 / 4, b.pk: day_cost / 4}
    assert (
        UsageSample.objects.filter(endpoint=endpoint).aggregate(c=Sum("cost"))["c"]
        == day_cost
    )


def test_token_priced_usage_uses_the_endpoint_prices_when_the_catalogue_has_none(
    db,
) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory(
        kind="openai",
        location="external",
        input_usd_per_mtok=Decimal("2.5"),
        output_usd_per_mtok=Decimal("10"),
    )
    start = datetime(2026, 11, 2, tzinfo=UTC)
    reading = Reading(
        series="o",
        model="unlisted-model-x",
        mode="bucket",
        requests=10,
        input_tokens=2_000_000,
        output_tokens=100_000,
        bucket_start=start,
        bucket_end=start + timedelta(days=1),
    )
    services.store_readings(
        endpoint_id=endpoint.pk, readings=[reading], observed_at=timezone.now()
    )
    expected = Decimal("2.5") * 2 + Decimal("10") / 10
    assert UsageSample.objects.get(endpoint=endpoint).cost == expected
    row = DailyUsage.objects.get(endpoint=endpoint)
    assert (row.cost, row.vendor, row.location) == (expected, "OpenAI", "external")


def test_a_new_mapping_attributes_past_usage(db, dave) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory()
    t0 = timezone.now()
    services.store_readings(
        endpoint_id=endpoint.pk, readings=[counter(1, 1, 1)], observed_at=t0
    )
    services.store_readings(
        endpoint_id=endpoint.pk,
        readings=[counter(4, 4, 4)],
        observed_at=t0 + timedelta(seconds=5),
    )
    use_case = UseCaseFactory()
    services.save_mapping(
        endpoint=endpoint,
        fields={"model_name": "m", "use_case": use_case, "team": None},
        by=dave,
    )
    assert DailyUsage.objects.get(endpoint=endpoint).use_case == use_case
    assert UsageSample.objects.get(endpoint=endpoint).team_id == use_case.team_id


@pytest.mark.django_db(transaction=True)
def test_collect_usage_command_polls_inline(server: FakeServer, capsys) -> None:  # type: ignore[no-untyped-def]
    server.set_vllm(model=MODEL, requests=5, prompt_tokens=50, generation_tokens=7)
    endpoint = ServingEndpointFactory(base_url=server.url)
    other = ServingEndpointFactory(base_url=server.url)
    call_command("collect_usage", "--once", "--concurrency", "1")
    assert "No endpoint is due" not in capsys.readouterr().out
    server.set_vllm(model=MODEL, requests=8, prompt_tokens=80, generation_tokens=9)
    call_command("collect_usage", "--endpoint", str(endpoint.pk))
    assert usage(endpoint) == (3, 30, 2)
    assert usage(other) == (0, 0, 0)
    call_command("collect_usage", "--once")
    assert "No endpoint is due" in capsys.readouterr().out
