"""Read scope holds by construction: no API view can let a read-only token write.

The token authentication refuses unsafe methods for read-only tokens before any
permission class runs, so a view declaring its own ``permission_classes`` (without
`TokenScope`) is still covered. The one named exception is `stores_nothing`,
set on ``POST /api/v1/framework/evaluate/`` alone.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import permissions
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from apps.accounts.authentication import READ_ONLY_MESSAGE, STORES_NOTHING
from apps.accounts.models import ApiToken
from apps.api.framework import EXAMPLE, EvaluateViewSet
from apps.api.planner import PortfolioPlanViewSet
from apps.framework.models import Assessment

pytestmark = pytest.mark.django_db


class CountingView(APIView):
    """A view that forgets the default permissions, as a careless new one might."""

    permission_classes = [permissions.AllowAny]
    writes = 0

    def post(self, request):  # type: ignore[no-untyped-def]
        CountingView.writes += 1
        return Response({"ok": True})


def post_with(scope: str, user) -> Response:  # type: ignore[no-untyped-def]
    _, key = ApiToken.issue(user=user, name=f"scope-{scope}", scope=scope)
    request = APIRequestFactory().post(
        "/x/", {}, format="json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    return CountingView.as_view()(request)


def test_a_view_with_its_own_permissions_still_refuses_a_read_only_token(dave):
    CountingView.writes = 0

    refused = post_with("read", dave)

    assert refused.status_code == 403
    assert refused.data["detail"] == READ_ONLY_MESSAGE
    assert CountingView.writes == 0
    assert post_with("write", dave).status_code == 200
    assert CountingView.writes == 1


def api_views():  # type: ignore[no-untyped-def]
    """Every view class mounted under /api/."""

    def walk(patterns, prefix=""):  # type: ignore[no-untyped-def]
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/"):
                view = getattr(pattern.callback, "cls", None)
                if view is not None:
                    yield view

    return set(walk(get_resolver().url_patterns))


def test_only_evaluate_and_the_portfolio_plan_are_exempt_from_read_scope():
    """The exceptions are named (both compute and save nothing), and a new one
    shows up here."""
    views = api_views()
    assert len(views) > 10
    exempt = {view for view in views if getattr(view, STORES_NOTHING, False)}
    assert exempt == {EvaluateViewSet, PortfolioPlanViewSet}


def test_a_read_only_token_evaluates_and_nothing_is_stored(api_client, paul):
    _, key = ApiToken.issue(user=paul, name="what-if", scope="read")

    response = api_client.post(
        "/api/v1/framework/evaluate/",
        EXAMPLE,
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )

    assert response.status_code == 200, response.content
    assert response.json()["outcome"]
    assert not Assessment.objects.exists()


def test_a_read_only_token_still_reads(api_client, paul):
    _, key = ApiToken.issue(user=paul, name="reader", scope="read")
    response = api_client.get("/api/v1/use-cases/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200
