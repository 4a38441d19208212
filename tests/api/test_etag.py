"""Reads under /api/v1/ carry a weak ETag; If-None-Match answers 304 until it changes."""

import pytest
from django.http import HttpResponse
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.etag import ConditionalGetMixin, conditional_get, weak_etag
from tests.factories import UseCaseFactory

URL = "/api/v1/use-cases/"


@pytest.mark.django_db
class TestConditionalGet:
    def test_a_list_carries_a_weak_etag_of_its_body(self, api_client, bob, alice):
        UseCaseFactory(owner=alice)
        api_client.force_authenticate(bob)
        response = api_client.get(URL)
        assert response.status_code == 200
        assert response["ETag"] == weak_etag(response.content)
        assert response["ETag"].startswith('W/"')
        assert "Authorization" in response["Vary"]

    def test_a_matching_if_none_match_is_a_304_without_a_body(
        self, api_client, bob, alice
    ):
        UseCaseFactory(owner=alice)
        api_client.force_authenticate(bob)
        etag = api_client.get(URL)["ETag"]
        again = api_client.get(URL, HTTP_IF_NONE_MATCH=etag)
        assert again.status_code == 304
        assert again.content == b""
        assert again["ETag"] == etag

    def test_a_change_gives_a_new_etag_and_a_full_response(
        self, api_client, bob, alice
    ):
        use_case = UseCaseFactory(owner=alice)
        api_client.force_authenticate(bob)
        etag = api_client.get(URL)["ETag"]
        use_case.title = "Renamed"
        use_case.save()
        changed = api_client.get(URL, HTTP_IF_NONE_MATCH=etag)
        assert changed.status_code == 200
        assert changed["ETag"] != etag
        assert "Renamed" in changed.content.decode()

    def test_users_who_see_different_rows_get_different_etags(
        self, api_client, bob, alice, carol
    ):
        UseCaseFactory(owner=carol, data_classification="restricted")
        api_client.force_authenticate(bob)
        board_etag = api_client.get(URL)["ETag"]
        api_client.force_authenticate(alice)
        response = api_client.get(URL, HTTP_IF_NONE_MATCH=board_etag)
        assert response.status_code == 200 and response.json()["count"] == 0

    def test_errors_and_writes_carry_no_etag(self, api_client, alice):
        assert not api_client.get(URL).has_header("ETag")  # 401
        api_client.force_authenticate(alice)
        assert not api_client.post(URL, {}).has_header("ETag")  # 400

    def test_pages_outside_the_api_are_left_alone(self, client, alice):
        client.force_login(alice)
        assert not client.get("/use-cases/").has_header("ETag")


def test_the_decorator_tags_a_function_view(rf):  # type: ignore[no-untyped-def]
    @conditional_get
    def view(request):  # type: ignore[no-untyped-def]
        return HttpResponse("report")

    first = view(rf.get("/export/"))
    assert first["ETag"] == weak_etag(b"report")
    assert view(rf.get("/export/", HTTP_IF_NONE_MATCH=first["ETag"])).status_code == 304
    assert view(rf.post("/export/")).has_header("ETag") is False


def test_the_mixin_tags_a_drf_view(rf):  # type: ignore[no-untyped-def]
    class Report(ConditionalGetMixin, APIView):
        permission_classes = []
        authentication_classes = []
        throttle_classes = []

        def get(self, request):  # type: ignore[no-untyped-def]
            return Response({"total": 3})

    view = Report.as_view()
    first = view(rf.get("/elsewhere/"))
    assert first.status_code == 200 and first.has_header("ETag")
    second = view(rf.get("/elsewhere/", HTTP_IF_NONE_MATCH=first["ETag"]))
    assert second.status_code == 304
