"""/api/schema/ and /api/docs/ are for signed-in users unless API_DOCS_PUBLIC is set."""

from __future__ import annotations

import pytest
from django.urls import reverse

DOCS = ("api:schema", "api:docs")


@pytest.fixture(autouse=True)
def _production(settings):  # type: ignore[no-untyped-def]
    settings.DEBUG = False


@pytest.mark.django_db
@pytest.mark.parametrize("name", DOCS)
def test_anonymous_visitors_cannot_read_the_api_docs_by_default(client, name):
    response = client.get(reverse(name))
    assert response.status_code in (401, 403)
    assert b"openapi" not in response.content


@pytest.mark.parametrize("name", DOCS)
def test_signed_in_users_read_the_api_docs(client, alice, name):
    client.force_login(alice)
    assert client.get(reverse(name)).status_code == 200


def test_a_bearer_token_reads_the_schema(api_client, alice):
    from apps.accounts.models import ApiToken

    _, key = ApiToken.issue(user=alice, name="docs")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    response = api_client.get(reverse("api:schema"), {"format": "json"})
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


@pytest.mark.django_db
@pytest.mark.parametrize("name", DOCS)
def test_api_docs_public_opens_them_to_anonymous_visitors(client, settings, name):
    settings.API_DOCS_PUBLIC = True
    assert client.get(reverse(name)).status_code == 200
