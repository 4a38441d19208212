"""Endpoint pages and the endpoints and usage API: access, shapes and query counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.endpoints.models import DailyUsage, UsageSample
from tests.factories import (
    EndpointMappingFactory,
    ServingEndpointFactory,
    UseCaseFactory,
)


def sample(endpoint, use_case, hour: int, **extra):  # type: ignore[no-untyped-def]
    start = datetime(2026, 11, 20, hour, tzinfo=UTC)
    return UsageSample.objects.create(
        endpoint=endpoint,
        series=f"s{use_case.pk if use_case else 0}",
        bucket_start=start,
        bucket_end=start + timedelta(hours=1),
        model="m",
        use_case=use_case,
        requests=10,
        input_tokens=100,
        output_tokens=20,
        **extra,
    )


def make_endpoints(n: int) -> None:
    for i in range(n):
        endpoint = ServingEndpointFactory(served_models=["m"])
        use_case = UseCaseFactory()
        EndpointMappingFactory(endpoint=endpoint, use_case=use_case)
        DailyUsage.objects.create(
            date=timezone.now().date(), endpoint=endpoint, use_case=use_case, requests=i
        )
        sample(endpoint, use_case, hour=i % 24)


def test_the_endpoint_list_takes_the_same_queries_for_5_or_50(
    client, dave, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    client.force_login(dave)
    make_endpoints(5)
    client.get(reverse("endpoints:list"))  # warm the session and permission caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as five:
        assert client.get(reverse("endpoints:list")).status_code == 200
    make_endpoints(45)
    with django_assert_max_num_queries(len(five)):
        response = client.get(reverse("endpoints:list"))
    assert response.content.decode().count("/endpoints/") >= 50


def test_the_usage_api_takes_the_same_queries_for_5_or_50(
    api_client, paul, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    api_client.force_authenticate(paul)
    make_endpoints(5)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as five:
        assert api_client.get("/api/v1/usage/").json()["count"] == 5
    make_endpoints(45)
    with django_assert_max_num_queries(len(five)):
        assert api_client.get("/api/v1/usage/").json()["count"] == 50
    with django_assert_max_num_queries(len(five) + 1):
        assert len(api_client.get("/api/v1/endpoints/").json()["results"]) == 50


def test_usage_rows_are_paginated_and_filtered(api_client, erin) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory()
    a, b = UseCaseFactory(), UseCaseFactory()
    for hour in range(3):
        sample(endpoint, a, hour)
    sample(endpoint, b, 5)
    api_client.force_authenticate(erin)
    page = api_client.get("/api/v1/usage/", {"page_size": 2}).json()
    assert page["count"] == 4 and page["next"] and page["previous"] is None
    row = page["results"][0]
    assert {
        "endpoint",
        "model",
        "use_case",
        "bucket_start",
        "requests",
        "input_tokens",
        "output_tokens",
        "cost",
    } <= set(row)
    by_use_case = api_client.get("/api/v1/usage/", {"use_case": a.pk}).json()
    assert by_use_case["count"] == 3
    window = api_client.get(
        "/api/v1/usage/",
        {"start": "2026-11-20T01:00:00Z", "end": "2026-11-20T03:00:00Z"},
    ).json()
    assert window["count"] == 2
    whole_day = api_client.get(
        "/api/v1/usage/", {"start": "2026-11-20", "end": "2026-11-20"}
    ).json()
    assert whole_day["count"] == 4
    assert api_client.get("/api/v1/usage/", {"start": "not-a-date"}).status_code == 400
    # Offsets PostgreSQL cannot take (beyond ±15:59) are read in UTC: 01:00 +19:30
    # is 05:30 UTC the day before, so the whole of the 20th is after it.
    far_offset = api_client.get(
        "/api/v1/usage/", {"start": "2026-11-20T01:00:00+19:30", "end": "2026-11-20"}
    )
    assert far_offset.status_code == 200 and far_offset.json()["count"] == 4
    out_of_range = api_client.get("/api/v1/usage/", {"end": "9999-12-31T23:00-05:00"})
    assert out_of_range.status_code == 400 and "end" in out_of_range.json()


def test_a_requester_sees_only_usage_and_endpoints_of_use_cases_they_can_see(
    client, api_client, alice, carol
) -> None:  # type: ignore[no-untyped-def]
    shared = ServingEndpointFactory(name="Shared 70B")
    mine = UseCaseFactory(owner=alice, team=alice.team, title="Alice's router")
    secret = UseCaseFactory(
        owner=carol,
        team=carol.team,
        title="Carol's restricted",
        data_classification="restricted",
    )
    EndpointMappingFactory(endpoint=shared, model_name="a", use_case=mine)
    EndpointMappingFactory(endpoint=shared, model_name="b", use_case=secret)
    hidden = ServingEndpointFactory(name="Carol only")
    EndpointMappingFactory(endpoint=hidden, use_case=secret)
    sample(shared, mine, 1)
    sample(shared, secret, 2)
    sample(shared, None, 3)

    api_client.force_authenticate(alice)
    rows = api_client.get("/api/v1/usage/").json()["results"]
    assert [r["use_case"] for r in rows] == [mine.pk]
    endpoints = api_client.get("/api/v1/endpoints/").json()["results"]
    assert [e["name"] for e in endpoints] == ["Shared 70B"]
    assert [m["use_case"] for m in endpoints[0]["mappings"]] == [mine.pk]
    assert api_client.get(f"/api/v1/endpoints/{hidden.pk}/").status_code == 404

    client.force_login(alice)
    listing = client.get(reverse("endpoints:list")).content.decode()
    assert "Shared 70B" in listing and "Carol only" not in listing
    assert (
        "Carol&#x27;s restricted" not in listing and "Carol's restricted" not in listing
    )
    detail = client.get(reverse("endpoints:detail", args=[shared.pk])).content.decode()
    assert "Carol" not in detail
    assert client.get(reverse("endpoints:detail", args=[hidden.pk])).status_code == 404


@pytest.mark.parametrize("who", ["platform", "board", "procurement", "auditor"])
def test_readers_see_every_endpoint_and_its_health(client, cast, who: str) -> None:  # type: ignore[no-untyped-def]
    ServingEndpointFactory(name="Healthy", health="ok", last_success_at=timezone.now())
    ServingEndpointFactory(
        name="Broken", health="failing", last_error="HTTP 500 from /metrics"
    )
    ServingEndpointFactory(name="Paused", enabled=False)
    client.force_login(cast[who])
    body = client.get(reverse("endpoints:list")).content.decode()
    for text in (
        "Healthy",
        "Broken",
        "Paused",
        "health-ok",
        "health-failing",
        "health-paused",
    ):
        assert text in body


def test_the_detail_page_draws_usage_with_plotly_from_json(client, erin) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory()
    use_case = UseCaseFactory(title="Claims triage")
    DailyUsage.objects.create(
        date=timezone.now().date(), endpoint=endpoint, use_case=use_case, requests=1234
    )
    client.force_login(erin)
    response = client.get(reverse("endpoints:detail", args=[endpoint.pk]))
    body = response.content.decode()
    assert 'id="usage-figure"' in body and 'data-plotly-src="/static/plotly/' in body
    trace = next(
        t for t in response.context["figure"]["data"] if t["name"] == "Claims triage"
    )
    assert 1234 in trace["y"]
    assert "Test connection" not in body  # auditors change nothing


def test_platform_edits_mappings_with_htmx(client, dave) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory(served_models=["m"])
    use_case = UseCaseFactory(title="Email router")
    client.force_login(dave)
    url = reverse("endpoints:mapping_add", args=[endpoint.pk])
    response = client.post(
        url,
        {"model_name": "m", "use_case": use_case.pk},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert (
        body.lstrip().startswith('<section id="mappings">') and "Email router" in body
    )
    invalid = client.post(
        url, {"model_name": "m"}, headers={"HX-Request": "true"}
    ).content.decode()
    assert "Map the traffic to a use-case or a team" in invalid
    mapping = endpoint.mappings.get()
    client.post(
        reverse("endpoints:mapping_delete", args=[endpoint.pk, mapping.pk]),
        headers={"HX-Request": "true"},
    )
    assert not endpoint.mappings.exists()


def test_the_use_case_page_gets_a_live_usage_panel(client, alice) -> None:  # type: ignore[no-untyped-def]
    use_case = UseCaseFactory(owner=alice, team=alice.team)
    endpoint = ServingEndpointFactory(name="vLLM 8B")
    DailyUsage.objects.create(
        date=timezone.now().date(), endpoint=endpoint, use_case=use_case, requests=77
    )
    client.force_login(alice)
    detail = client.get(use_case.get_absolute_url()).content.decode()
    panel_url = reverse("endpoints:usecase_usage", args=[use_case.pk])
    assert panel_url in detail
    fragment = client.get(panel_url, headers={"HX-Request": "true"}).content.decode()
    assert "vLLM 8B" in fragment and "77" in fragment
    other = UseCaseFactory(data_classification="restricted")
    assert (
        client.get(reverse("endpoints:usecase_usage", args=[other.pk])).status_code
        == 404
    )
