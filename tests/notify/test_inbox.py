"""The in-app inbox: a bell with the unread count, a page, mark as read, and the
API; nobody ever reads about an object they may not see."""

from __future__ import annotations

import re

import pytest
from django.test import RequestFactory
from django.urls import reverse

from apps.core.events import Event, EventKind, portal_event
from apps.notify.context_processors import unread_notifications
from apps.notify.models import Notification
from apps.usecases.models import UseCase
from tests.factories import UseCaseFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/notifications/"
SECRET_TITLE = "Fraud scoring on claimant medical notes"


@pytest.fixture
def confidential(alice):  # type: ignore[no-untyped-def]
    """A submitted confidential use-case of alice's team (Claims)."""
    return UseCaseFactory(
        owner=alice,
        title=SECRET_TITLE,
        data_classification="confidential",
        status=UseCase.Status.SUBMITTED,
    )


def tell(use_case: UseCase, *, key: str = "k1", **audience: object) -> Event:
    event = Event(
        kind=EventKind.CONDITION_ASSIGNED,
        key=key,
        title=f"Condition on {use_case.title}",
        url=use_case.get_absolute_url(),
        use_case_id=use_case.pk,
        **audience,  # type: ignore[arg-type]
    )
    # What emit() does once the emitting transaction commits.
    portal_event.send(sender=Event, event=event)
    return event


def bell(client) -> str:  # type: ignore[no-untyped-def]
    page = client.get(reverse("notify:inbox")).content.decode()
    return re.search(
        r'<a href="/notifications/" class="bell"[^>]*>.*?</a>', page, re.S
    )[0]


class TestVisibility:
    def test_a_requester_never_hears_of_another_teams_confidential_use_case(
        self, client, api_client, alice, carol, confidential
    ):
        tell(confidential, user_ids=(alice.pk, carol.pk), roles=("requester",))
        assert Notification.objects.filter(user=alice).count() == 1
        assert not Notification.objects.filter(user=carol).exists()
        client.force_login(carol)
        page = client.get(reverse("notify:inbox")).content.decode()
        assert SECRET_TITLE not in page
        assert "unread" not in bell(client)
        api_client.force_authenticate(carol)
        assert api_client.get(API).json()["count"] == 0

    def test_an_item_made_before_access_was_lost_is_hidden_everywhere(
        self, client, api_client, carol, confidential
    ):
        """Say carol read it while it was public, then it was reclassified."""
        item = Notification.objects.create(
            user=carol,
            kind=EventKind.DECIDED,
            key="old",
            title=SECRET_TITLE,
            url=confidential.get_absolute_url(),
            use_case=confidential,
        )
        client.force_login(carol)
        assert SECRET_TITLE not in client.get(reverse("notify:inbox")).content.decode()
        assert "unread" not in bell(client)
        response = client.post(reverse("notify:mark_read", args=[item.pk]))
        assert response.status_code == 404
        api_client.force_authenticate(carol)
        assert api_client.get(API).json()["count"] == 0
        assert api_client.get(f"{API}{item.pk}/").status_code == 404
        assert api_client.post(f"{API}{item.pk}/read/").status_code == 404
        item.refresh_from_db()
        assert item.read_at is None

    def test_the_owners_team_and_the_board_do_hear_of_it(
        self, client, alice, bob, confidential
    ):
        tell(confidential, user_ids=(alice.pk,), roles=("board",))
        for person in (alice, bob):
            client.force_login(person)
            assert SECRET_TITLE in client.get(reverse("notify:inbox")).content.decode()
            assert "1 unread" in bell(client)

    def test_another_teams_internal_submitted_use_case_may_reach_a_requester(
        self, carol, alice
    ):
        shared = UseCaseFactory(owner=alice, status=UseCase.Status.SUBMITTED)
        tell(shared, user_ids=(carol.pk,))
        assert Notification.objects.filter(user=carol).count() == 1

    def test_the_actor_is_not_told_of_their_own_act(self, alice, confidential):
        tell(confidential, user_ids=(alice.pk,), actor_id=alice.pk)
        assert not Notification.objects.exists()

    def test_an_event_emitted_twice_makes_one_item(self, alice, confidential):
        tell(confidential, user_ids=(alice.pk,))
        tell(confidential, user_ids=(alice.pk,))
        assert Notification.objects.filter(user=alice).count() == 1

    def test_api_lists_only_my_own_items(self, api_client, alice, bob, confidential):
        tell(confidential, user_ids=(alice.pk,), roles=("board",))
        api_client.force_authenticate(bob)
        [item] = api_client.get(API).json()["results"]
        assert item["title"] == f"Condition on {SECRET_TITLE}"
        assert item["url"] == confidential.get_absolute_url()
        assert item["read"] is False
        mine = Notification.objects.get(user=alice)
        assert api_client.get(f"{API}{mine.pk}/").status_code == 404


class TestReading:
    def test_marking_one_read_drops_the_count_and_opening_goes_to_the_object(
        self, client, alice, confidential
    ):
        tell(confidential, key="a", user_ids=(alice.pk,))
        tell(confidential, key="b", user_ids=(alice.pk,))
        client.force_login(alice)
        assert "2 unread" in bell(client)
        first = Notification.objects.get(key="a")
        response = client.post(
            reverse("notify:mark_read", args=[first.pk]), {"open": "1"}
        )
        assert response.status_code == 302
        assert response["Location"] == confidential.get_absolute_url()
        assert "1 unread" in bell(client)

    def test_marking_all_read_clears_the_bell(self, client, alice, confidential):
        tell(confidential, key="a", user_ids=(alice.pk,))
        tell(confidential, key="b", user_ids=(alice.pk,))
        client.force_login(alice)
        client.post(reverse("notify:mark_all_read"))
        assert "unread" not in bell(client)
        assert not Notification.objects.filter(read_at__isnull=True).exists()

    def test_htmx_mark_read_answers_the_item_alone(self, client, alice, confidential):
        tell(confidential, user_ids=(alice.pk,))
        item = Notification.objects.get()
        client.force_login(alice)
        response = client.post(
            reverse("notify:mark_read", args=[item.pk]), HTTP_HX_REQUEST="true"
        )
        body = response.content.decode()
        assert body.strip().startswith(f'<li id="notification-{item.pk}"')
        assert "Mark read" not in body

    def test_the_api_marks_one_and_all_read(self, api_client, alice, confidential):
        tell(confidential, key="a", user_ids=(alice.pk,))
        tell(confidential, key="b", user_ids=(alice.pk,))
        api_client.force_authenticate(alice)
        first = Notification.objects.get(key="a")
        assert api_client.post(f"{API}{first.pk}/read/").json()["read"] is True
        assert api_client.get(API, {"unread": "true"}).json()["count"] == 1
        assert api_client.post(f"{API}read-all/").json() == {"marked": 1}
        assert api_client.get(API, {"unread": "true"}).json()["count"] == 0
        assert api_client.get(API, {"unread": "false"}).json()["count"] == 2
        refused = api_client.get(API, {"unread": "yes"})
        assert refused.status_code == 400
        assert refused.json()["unread"] == ["Give true or false."]

    def test_the_bell_costs_one_query(
        self, alice, bob, confidential, django_assert_num_queries
    ):
        tell(confidential, user_ids=(alice.pk,), roles=("board",))
        for person in (alice, bob):
            request = RequestFactory().get("/")
            request.user = person
            assert person.roles is not None  # the navigation has read them already
            count = unread_notifications(request)["unread_notifications"]
            with django_assert_num_queries(1):
                assert count() == 1
                assert count() == 1  # asked twice by the template, counted once

    def test_the_page_lists_items_in_few_queries(
        self, client, alice, confidential, django_assert_max_num_queries
    ):
        for n in range(30):
            tell(confidential, key=f"k{n}", user_ids=(alice.pk,))
        client.force_login(alice)
        with django_assert_max_num_queries(12):
            response = client.get(reverse("notify:inbox"))
        assert response.content.decode().count('class="comment notification unread"') == 30
