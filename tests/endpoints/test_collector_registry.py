"""The collector registry and the shared reading types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from apps.endpoints.collectors import (
    KINDS,
    Collector,
    CollectorError,
    Reading,
    UnknownKind,
    get_collector,
)
from apps.endpoints.collectors.base import (
    api_root,
    ceil_time,
    floor_time,
    merge_readings,
    openai_api_base,
    series_name,
)

DAY = datetime(2025, 8, 1, tzinfo=UTC)


def test_it_has_a_collector_for_every_endpoint_kind() -> None:
    assert set(KINDS) == {
        "vllm",
        "tgi",
        "litellm",
        "openai",
        "anthropic",
        "openai_compatible",
    }
    for kind in KINDS:
        collector = get_collector(kind)
        assert isinstance(collector, Collector)
        assert collector.kind == kind
        assert collector.mode in ("counter", "bucket", "none")
        assert type(collector).__doc__


def test_it_refuses_an_unknown_kind() -> None:
    with pytest.raises(UnknownKind, match="ollama"):
        get_collector("ollama")


def test_it_refuses_a_naive_collection_window() -> None:
    naive = datetime(2025, 8, 1)  # naive on purpose
    with pytest.raises(ValueError, match="timezone"):
        get_collector("openai").collect(
            None,  # type: ignore[arg-type]
            base_url="https://api.openai.com",
            api_key="k",
            since=naive,
            until=naive,
        )


def test_a_bucket_reading_needs_an_aware_bucket_start() -> None:
    with pytest.raises(ValueError):
        Reading(series="s", model="m", mode="bucket")
    with pytest.raises(ValueError):
        Reading(series="s", model="m", mode="counter", bucket_start=DAY)
    reading = Reading(series="s", model="m", mode="bucket", bucket_start=DAY)
    assert reading.key == ("s", DAY)


def test_it_merges_readings_that_share_a_key() -> None:
    first = Reading(
        series="s", model="m", mode="bucket", bucket_start=DAY, cost=Decimal("0.5")
    )
    second = Reading(
        series="s",
        model="m",
        mode="bucket",
        bucket_start=DAY,
        requests=2,
        input_tokens=10,
        cost=Decimal("0.25"),
    )
    other = Reading(series="t", model="m", mode="bucket", bucket_start=DAY)
    merged = merge_readings([first, other, second])
    assert [r.series for r in merged] == ["s", "t"]
    assert merged[0].cost == Decimal("0.75")
    assert (merged[0].requests, merged[0].input_tokens) == (2, 10)


def test_it_names_series_with_sorted_labels() -> None:
    assert series_name("x", b="2", a=None) == "x|a=|b=2"
    assert series_name("tgi") == "tgi"


def test_it_aligns_times_to_bucket_boundaries() -> None:
    moment = datetime(2025, 8, 1, 13, 45, 10, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert floor_time(moment, hour) == datetime(2025, 8, 1, 13, tzinfo=UTC)
    assert ceil_time(moment, hour) == datetime(2025, 8, 1, 14, tzinfo=UTC)
    assert ceil_time(DAY, timedelta(days=1)) == DAY


def test_it_normalises_base_urls() -> None:
    assert api_root("http://h:8000/v1/") == "http://h:8000"
    assert api_root(" http://h:8000 ") == "http://h:8000"
    assert openai_api_base("http://h:8000") == "http://h:8000/v1"
    assert openai_api_base("http://h:8000/v1/") == "http://h:8000/v1"
    assert openai_api_base("https://g.example/v1beta/openai") == (
        "https://g.example/v1beta/openai/v1"
    )


def test_a_collector_error_keeps_its_retry_hints() -> None:
    error = CollectorError("boom", status_code=429, transient=True, retry_after=3.0)
    assert (error.message, error.status_code, error.transient, error.retry_after) == (
        "boom",
        429,
        True,
        3.0,
    )
