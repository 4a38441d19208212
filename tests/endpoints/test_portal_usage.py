"""Usage the portal sends itself: through the ledger's writer, one sample per hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from apps.catalogue.models import CatalogModel
from apps.endpoints import services
from apps.endpoints.models import DailyUsage, PortalCall, ServingEndpoint, UsageSample
from apps.endpoints.services import metering
from tests.factories import (
    EndpointMappingFactory,
    ServingEndpointFactory,
    UseCaseFactory,
)

pytestmark = pytest.mark.django_db

MODEL = "gpt-4o-mini"
AT = datetime(2025, 3, 4, 10, 42, 7, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _spool(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.GATEWAY_SPOOL_DIR = str(tmp_path / "spool")
    settings.GATEWAY_FLUSH_INTERVAL = 3600  # tests flush when they choose
    metering.reset()
    yield
    metering.reset()


def series(use_case_id: int | None = None) -> str:
    return f"portal|model={MODEL}|use_case={use_case_id or ''}"


@pytest.fixture
def endpoint() -> ServingEndpoint:
    return ServingEndpointFactory(
        kind="openai_compatible", location="external", served_models=[MODEL]
    )


@pytest.fixture
def price() -> CatalogModel:
    return CatalogModel.objects.create(
        key=MODEL,
        name="GPT-4o mini",
        provider="OpenAI",
        capability_tier="standard",
        context_window=128_000,
        hosting=["api"],
        input_usd_per_mtok=Decimal("0.15"),
        output_usd_per_mtok=Decimal("0.60"),
    )


def record(endpoint: ServingEndpoint, *, flush: bool = True, **overrides):  # type: ignore[no-untyped-def]
    """Record one call as the playground does, then flush the spool."""
    use_case = overrides.pop("use_case", None)
    values = {
        "endpoint_id": endpoint.pk,
        "kind": endpoint.kind,
        "key": "run-output=1",
        "model": MODEL,
        "use_case_id": use_case.pk if use_case else None,
        "at": AT,
        "input_tokens": 1_000,
        "output_tokens": 500,
    }
    values.update(overrides)
    recorded = services.record_portal_usage(**values)
    if flush:
        metering.flush_pending()
    return recorded


def daily_totals(endpoint: ServingEndpoint) -> dict[str, object]:
    return DailyUsage.objects.filter(endpoint=endpoint).aggregate(
        requests=Sum("requests"),
        input_tokens=Sum("input_tokens"),
        output_tokens=Sum("output_tokens"),
        cost=Sum("cost"),
    )


def test_it_records_one_priced_request_in_the_hour_of_the_call(endpoint, price):
    use_case = UseCaseFactory()

    assert record(endpoint, use_case=use_case) is True

    (sample,) = UsageSample.objects.filter(endpoint=endpoint)
    assert sample.series == series(use_case.pk)
    assert sample.bucket_start == datetime(2025, 3, 4, 10, tzinfo=UTC)
    assert sample.bucket_end == datetime(2025, 3, 4, 11, tzinfo=UTC)
    assert (sample.requests, sample.input_tokens, sample.output_tokens) == (
        1,
        1_000,
        500,
    )
    # 1,000 tokens at $0.15 and 500 at $0.60 a million.
    assert sample.cost == Decimal("0.000450")
    assert sample.use_case == use_case and sample.team_id == use_case.team_id
    (row,) = DailyUsage.objects.filter(endpoint=endpoint)
    assert row.date == AT.date() and row.use_case == use_case
    assert (row.requests, row.input_tokens, row.output_tokens) == (1, 1_000, 500)
    assert row.cost == Decimal("0.000450")


def test_recording_only_appends_to_the_spool_until_the_flush(endpoint, price):
    with CaptureQueriesContext(connection) as queries:
        record(endpoint, flush=False)

    assert len(queries) == 0
    assert not UsageSample.objects.exists()
    assert metering.flush_pending() == 1
    assert UsageSample.objects.get(endpoint=endpoint).requests == 1


def test_recording_the_same_call_again_never_counts_it_twice(endpoint, price):
    record(endpoint)
    first = daily_totals(endpoint)

    record(endpoint)
    record(endpoint, at=AT + timedelta(minutes=5))

    assert UsageSample.objects.filter(endpoint=endpoint).count() == 1
    assert daily_totals(endpoint) == first
    assert first["requests"] == 1


def test_a_retried_flush_counts_nothing_twice(endpoint, price):
    record(endpoint, flush=False)
    record(endpoint, key="run-output=2", flush=False)
    ready = metering.get_spool().rotate()
    assert ready is not None
    entries = metering.read_spool(ready)

    metering.write_now(entries)
    metering.write_now(entries)  # the flush, retried after a crash

    assert PortalCall.objects.count() == 2
    (sample,) = UsageSample.objects.filter(endpoint=endpoint)
    assert (sample.requests, sample.input_tokens) == (2, 2_000)
    assert daily_totals(endpoint)["cost"] == Decimal("0.000900")


def test_a_call_saved_again_at_another_time_moves_rather_than_doubles(endpoint, price):
    record(endpoint)

    record(endpoint, at=AT + timedelta(days=1))

    (sample,) = UsageSample.objects.filter(endpoint=endpoint)
    assert sample.bucket_start.date() == (AT + timedelta(days=1)).date()
    assert not DailyUsage.objects.filter(endpoint=endpoint, date=AT.date()).exists()
    assert DailyUsage.objects.get(endpoint=endpoint).requests == 1


def test_calls_of_one_hour_share_a_sample_and_each_counts_once(endpoint, price):
    record(endpoint, key="run-output=1")
    record(endpoint, key="run-output=2", input_tokens=10, output_tokens=20)
    record(endpoint, key="test-result=1", input_tokens=None, output_tokens=None)

    (sample,) = UsageSample.objects.filter(endpoint=endpoint)
    assert (sample.requests, sample.input_tokens, sample.output_tokens) == (
        3,
        1_010,
        520,
    )
    # Each call priced on its own: 0.000450 + 0.000014 (rounded) + 0.
    assert sample.cost == Decimal("0.000450") + Decimal("0.000014")
    totals = daily_totals(endpoint)
    assert (totals["requests"], totals["input_tokens"], totals["output_tokens"]) == (
        3,
        1_010,
        520,
    )


def test_a_late_older_version_of_a_call_does_not_undo_a_newer_one(endpoint, price):
    use_case = UseCaseFactory()
    record(endpoint, use_case=None, flush=False)
    old = metering.read_spool(metering.get_spool().rotate())  # type: ignore[arg-type]
    record(endpoint, use_case=use_case)  # attached to a use-case meanwhile

    metering.write_now(old)  # another process's spool, flushed late

    (sample,) = UsageSample.objects.filter(endpoint=endpoint)
    assert sample.use_case == use_case and sample.requests == 1


def test_a_call_kept_as_its_own_sample_before_moves_into_its_hour(endpoint, price):
    """Samples of one call each (how calls were kept before) are not counted twice."""
    UsageSample.objects.create(
        endpoint=endpoint,
        series="portal|run-output=1",
        bucket_start=datetime(2025, 3, 4, 10, tzinfo=UTC),
        bucket_end=datetime(2025, 3, 4, 11, tzinfo=UTC),
        model=MODEL,
        requests=1,
        input_tokens=1_000,
        output_tokens=500,
        cost=Decimal("0.000450"),
    )

    record(endpoint)

    (sample,) = UsageSample.objects.filter(endpoint=endpoint)
    assert sample.series == series() and sample.requests == 1
    assert daily_totals(endpoint)["requests"] == 1


def test_without_a_use_case_it_attributes_the_call_as_the_mapping_says(endpoint):
    mapped = UseCaseFactory()
    EndpointMappingFactory(endpoint=endpoint, use_case=mapped)

    record(endpoint, use_case=None)

    assert UsageSample.objects.get(endpoint=endpoint).use_case == mapped
    assert DailyUsage.objects.get(endpoint=endpoint).use_case == mapped


def test_the_endpoint_price_prices_models_the_catalogue_lacks(endpoint):
    endpoint.input_usd_per_mtok = Decimal("1")
    endpoint.output_usd_per_mtok = Decimal("2")
    endpoint.save()

    record(endpoint, model="my-local-model")

    assert UsageSample.objects.get(endpoint=endpoint).cost == Decimal("0.002000")


def test_a_self_hosted_endpoint_spreads_its_hourly_cost_over_the_calls(price):
    endpoint = ServingEndpointFactory(
        kind="openai_compatible", hourly_cost=Decimal("2.50")
    )
    first, second = UseCaseFactory(), UseCaseFactory()

    record(
        endpoint,
        key="run-output=1",
        use_case=first,
        input_tokens=300,
        output_tokens=100,
    )
    record(
        endpoint, key="run-output=2", use_case=second, input_tokens=100, output_tokens=0
    )

    # A past day: 24 hours of hardware, split 4:1 by tokens, not the catalogue price.
    costs = dict(
        DailyUsage.objects.filter(endpoint=endpoint).values_list("use_case", "cost")
    )
    assert costs == {first.pk: Decimal("48.000000"), second.pk: Decimal("12.000000")}
    assert sorted(UsageSample.objects.values_list("cost", flat=True)) == [
        Decimal("12.000000"),
        Decimal("48.000000"),
    ]


@pytest.mark.parametrize("kind", ["vllm", "tgi", "litellm", "openai", "anthropic"])
def test_kinds_whose_collector_counts_the_traffic_get_no_portal_sample(kind, price):
    endpoint = ServingEndpointFactory(kind=kind)

    assert record(endpoint, use_case=UseCaseFactory()) is False

    assert not UsageSample.objects.filter(endpoint=endpoint).exists()
    assert not DailyUsage.objects.filter(endpoint=endpoint).exists()


def test_a_new_mapping_leaves_a_call_with_its_own_use_case_alone(endpoint, price):
    own, mapped = UseCaseFactory(), UseCaseFactory()
    record(endpoint, key="run-output=1", use_case=own)
    record(endpoint, key="run-output=2", use_case=None)

    services.save_mapping(
        endpoint=endpoint, fields={"use_case": mapped}, by=mapped.owner
    )

    attributed = dict(
        UsageSample.objects.filter(endpoint=endpoint).values_list("series", "use_case")
    )
    assert attributed == {series(own.pk): own.pk, series(): mapped.pk}


@pytest.mark.parametrize("hosting", ["priced", "self_hosted"])
def test_writing_a_call_costs_the_same_queries_after_1_or_50_calls_that_day(
    hosting, price
):
    endpoint = ServingEndpointFactory(
        kind="openai_compatible",
        hourly_cost=Decimal("2.50") if hosting == "self_hosted" else None,
        location="in_house" if hosting == "self_hosted" else "external",
    )
    use_case = UseCaseFactory()

    def queries_of_the_next_call(prior: int) -> int:
        for n in range(prior):
            record(
                endpoint,
                key=f"prior-{prior}-{n}",
                use_case=use_case,
                at=AT + timedelta(minutes=n),
            )
        record(endpoint, key=f"next-{prior}", use_case=use_case, flush=False)
        with CaptureQueriesContext(connection) as queries:
            assert metering.flush_pending() == 1
        return len(queries)

    assert queries_of_the_next_call(1) == queries_of_the_next_call(50)
    assert DailyUsage.objects.get(endpoint=endpoint).requests == 1 + 50 + 2
