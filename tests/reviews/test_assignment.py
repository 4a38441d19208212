"""Boards assign a reviewer; nobody else does."""

import pytest
from django.urls import reverse

from apps.reviews.models import ReviewAssignment
from apps.usecases.services import submit_use_case
from tests.factories import UseCaseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def submitted(alice):  # type: ignore[no-untyped-def]
    use_case = UseCaseFactory(owner=alice)
    submit_use_case(use_case=use_case, by=alice)
    return use_case


def test_a_board_member_assigns_a_reviewer_from_the_board(client, bob, submitted):
    client.force_login(bob)
    response = client.post(
        reverse("reviews:assign", args=[submitted.pk]), {"reviewer": bob.pk}
    )
    assert response.status_code == 302
    assert ReviewAssignment.objects.get(use_case=submitted).reviewer == bob


def test_it_refuses_a_reviewer_from_outside_the_board(client, bob, alice, submitted):
    client.force_login(bob)
    client.post(reverse("reviews:assign", args=[submitted.pk]), {"reviewer": alice.pk})
    assert not ReviewAssignment.objects.exists()


def test_an_auditor_cannot_assign_and_nothing_changes(client, erin, bob, submitted):
    client.force_login(erin)
    response = client.post(
        reverse("reviews:assign", args=[submitted.pk]), {"reviewer": bob.pk}
    )
    assert response.status_code == 403
    assert not ReviewAssignment.objects.exists()


def test_assigned_to_me_keeps_only_the_readers_reviews(client, bob, alice, carol):
    mine, other = UseCaseFactory(owner=alice), UseCaseFactory(owner=carol)
    for use_case in (mine, other):
        submit_use_case(use_case=use_case, by=use_case.owner)
    ReviewAssignment.objects.create(use_case=mine, reviewer=bob, assigned_by=bob)
    client.force_login(bob)
    response = client.get(reverse("reviews:queue"), {"assigned": "me"})
    assert [uc.pk for uc in response.context["page"]] == [mine.pk]
    response = client.get(reverse("reviews:queue"), {"assigned": "nobody"})
    assert [uc.pk for uc in response.context["page"]] == [other.pk]
