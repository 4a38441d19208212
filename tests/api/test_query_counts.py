"""A page of use-cases costs the same number of queries whatever its size."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.reviews.models import Decision
from tests.factories import UseCaseFactory

URL = "/api/v1/use-cases/"


def queries_for(client, **params) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL, params)
    assert response.status_code == 200
    assert len(response.json()["results"]) == params["page_size"]
    return len(captured.captured_queries)


@pytest.mark.django_db
def test_a_page_of_10_and_a_page_of_100_run_the_same_queries(api_client, alice, bob):
    for index in range(110):
        use_case = UseCaseFactory(
            owner=alice, workloads=[("classification", 50), ("reasoning", 50)]
        )
        if index % 3 == 0:
            Decision.objects.create(
                use_case=use_case, outcome="approved", decided_by=bob
            )
    api_client.force_authenticate(bob)
    api_client.get(URL)  # warms the user's cached roles, as any earlier request would
    small = queries_for(api_client, page_size=10)
    large = queries_for(api_client, page_size=100)
    assert small == large
    assert large <= 8


@pytest.mark.django_db
def test_csv_costs_no_more_queries_than_json(api_client, alice, bob):
    for _ in range(30):
        UseCaseFactory(owner=alice)
    api_client.force_authenticate(bob)
    api_client.get(URL)
    as_json = queries_for(api_client, page_size=25)
    as_csv = queries_for(api_client, page_size=25, format="json")
    with CaptureQueriesContext(connection) as captured:
        api_client.get(URL, {"page_size": 25, "format": "csv"})
    assert as_json == as_csv == len(captured.captured_queries)
