"""Lifecycle pages: who may see, start and adopt; lists read in fixed queries."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.lifecycle.models import Comparison
from apps.playground.models import TestSetRun
from apps.reviews.models import Decision

from .conftest import approved
from .test_comparisons import CANDIDATE, INCUMBENT, endpoint, proposal, with_test_set


@pytest.fixture
def comparison(alice, bob, incumbent_server, passing_server):  # type: ignore[no-untyped-def]
    current = endpoint(incumbent_server, "Llama 8B", INCUMBENT)
    use_case = approved(
        alice, bob, [(current, INCUMBENT, 1)], data_classification="confidential"
    )
    with_test_set(use_case)
    return proposal(use_case, current, endpoint(passing_server, "Llama 70B", CANDIDATE))


@pytest.mark.django_db
class TestAccess:
    def test_another_teams_requester_gets_404_on_a_confidential_comparison(
        self, client, comparison, carol
    ):
        client.force_login(carol)
        url = reverse("lifecycle:comparison_detail", args=[comparison.pk])
        assert client.get(url).status_code == 404
        start = reverse("lifecycle:comparison_start", args=[comparison.pk])
        assert client.post(start).status_code == 404
        assert not TestSetRun.objects.exists()

    def test_procurement_reads_but_may_not_start(self, client, comparison, paul):
        client.force_login(paul)
        page = client.get(reverse("lifecycle:comparison_detail", args=[comparison.pk]))
        assert page.status_code == 200
        assert "start-comparison" not in page.content.decode()
        response = client.post(
            reverse("lifecycle:comparison_start", args=[comparison.pk])
        )
        assert response.status_code == 403
        comparison.refresh_from_db()
        assert comparison.status == Comparison.Status.PROPOSED
        assert not TestSetRun.objects.exists()

    def test_the_owner_may_start_but_not_adopt(self, client, comparison, alice):
        comparison.status = Comparison.Status.PASSED
        comparison.save(update_fields=["status"])
        decisions = Decision.objects.count()
        client.force_login(alice)
        response = client.post(
            reverse("lifecycle:comparison_adopt", args=[comparison.pk])
        )
        assert response.status_code == 403
        assert Decision.objects.count() == decisions


@pytest.mark.django_db
def test_the_lifecycle_page_reads_in_the_same_queries_whatever_the_rows(
    client, comparison, bob, incumbent_server
):
    client.force_login(bob)
    url = reverse("lifecycle:overview")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(3):
        current = endpoint(incumbent_server, f"Another {n}", INCUMBENT)
        use_case = approved(comparison.use_case.owner, bob, [(current, INCUMBENT, 1)])
        proposal(use_case, current, current)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.content.decode().count("Proposed") >= 4
    assert len(many) == len(few)
