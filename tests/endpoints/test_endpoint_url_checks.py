"""Issue 13, finding 8: every way of saving an endpoint checks its base URL, and a
URL stored before that (or written around it) fails clearly, never with a 500, and
never sends credentials written into the URL."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from apps.core.http import UnsafeURL
from apps.endpoints import services
from apps.endpoints.models import ServingEndpoint
from tests.factories import ServingEndpointFactory
from tests.servers import FakeServer

#: 169.254.169.254 in octal: inet_aton reads it, httpx refuses to parse it.
OCTAL_METADATA = "http://0251.0376.0251.0376/"
STORED_KEY = "sk-stored-key-for-this-endpoint"


def credentials_url(server: FakeServer) -> str:
    """``host\\@loopback``: read as userinfo ``169.254.169.254\\`` plus a loopback host."""
    return f"http://169.254.169.254\\@127.0.0.1:{server.port}/"


def admin_form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "Probe",
        "kind": "vllm",
        "base_url": "http://127.0.0.1:8000",
        "location": "in_house",
        "enabled": "on",
        "poll_interval_seconds": "60",
        "vendor": "",
        "chat_capable": "on",
        "served_models": "[]",
        "next_poll_at_0": "",
        "next_poll_at_1": "",
        "baseline_at_0": "",
        "baseline_at_1": "",
        "mappings-TOTAL_FORMS": "0",
        "mappings-INITIAL_FORMS": "0",
        "mappings-MIN_NUM_FORMS": "0",
        "mappings-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def store_unchecked(endpoint: ServingEndpoint, url: str) -> None:
    """A row written before the model checked URLs (or by a raw UPDATE)."""
    ServingEndpoint.objects.filter(pk=endpoint.pk).update(base_url=url)
    endpoint.refresh_from_db()


# Saving: the admin, the model, the portal form and the API.


@pytest.mark.parametrize(
    "url",
    [
        OCTAL_METADATA,
        "http://169.254.169.254\\@127.0.0.1:8000/",
        "http://user:secret@127.0.0.1:8000/",
        "http://[fec0::1]/",
        "http://192.0.0.8/",
        "gopher://127.0.0.1/",
    ],
)
def test_the_admin_refuses_a_refused_base_url_and_stores_nothing(
    client, root, url: str
) -> None:  # type: ignore[no-untyped-def]
    client.force_login(root)
    response = client.post(
        reverse("admin:endpoints_servingendpoint_add"), admin_form(base_url=url)
    )
    assert response.status_code == 200
    assert "base_url" in response.context["adminform"].form.errors
    assert not ServingEndpoint.objects.exists()


def test_the_admin_refuses_a_refused_base_url_on_edit_and_keeps_the_old_one(
    client, root
) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory(name="Probe", base_url="http://127.0.0.1:8000")
    client.force_login(root)
    response = client.post(
        reverse("admin:endpoints_servingendpoint_change", args=[endpoint.pk]),
        admin_form(base_url=OCTAL_METADATA),
    )
    assert response.status_code == 200
    assert "base_url" in response.context["adminform"].form.errors
    endpoint.refresh_from_db()
    assert endpoint.base_url == "http://127.0.0.1:8000"


def test_the_admin_still_saves_an_allowed_base_url(client, root) -> None:  # type: ignore[no-untyped-def]
    client.force_login(root)
    response = client.post(
        reverse("admin:endpoints_servingendpoint_add"),
        admin_form(base_url="http://127.0.0.1:8000"),
    )
    assert response.status_code == 302
    assert ServingEndpoint.objects.get().base_url == "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    "url", [OCTAL_METADATA, "http://169.254.169.254\\@127.0.0.1:8000/"]
)
def test_model_validation_refuses_the_url_on_the_base_url_field(db, url: str) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpoint(name="Probe", kind="vllm", base_url=url)
    with pytest.raises(ValidationError) as caught:
        endpoint.full_clean()
    assert "base_url" in caught.value.message_dict


def test_model_validation_refuses_an_address_outside_the_allowed_networks(
    db, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.ENDPOINT_ALLOWED_NETWORKS = []
    endpoint = ServingEndpoint(name="Probe", kind="vllm", base_url="http://127.0.0.1:1")
    with pytest.raises(ValidationError) as caught:
        endpoint.full_clean()
    assert "loopback" in caught.value.message_dict["base_url"][0]


@pytest.mark.parametrize(
    "url",
    [
        OCTAL_METADATA,
        "http://169.254.169.254\\@127.0.0.1:8000/",
        "http://user:secret@127.0.0.1:8000/",
        "ftp://127.0.0.1/",
        "http:///no-host",
    ],
)
def test_saving_a_malformed_or_credentialed_url_is_refused_whatever_the_path(
    db, url: str
) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnsafeURL):
        ServingEndpointFactory(base_url=url)
    assert not ServingEndpoint.objects.exists()


def test_saving_poll_state_of_a_row_stored_before_the_check_still_works(
    db,
) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory()
    store_unchecked(endpoint, OCTAL_METADATA)
    endpoint.last_error = "still recorded"
    endpoint.save(update_fields=["last_error"])
    endpoint.refresh_from_db()
    assert endpoint.last_error == "still recorded"


def test_the_portal_form_refuses_the_credentials_form_with_a_field_error(
    client, dave, server
) -> None:  # type: ignore[no-untyped-def]
    client.force_login(dave)
    response = client.post(
        reverse("endpoints:create"),
        {
            "name": "Probe",
            "kind": "vllm",
            "base_url": credentials_url(server),
            "location": "in_house",
            "poll_interval_seconds": "60",
            "chat_capable": "on",
        },
    )
    assert response.status_code == 200
    assert "base_url" in response.context["form"].errors
    assert not ServingEndpoint.objects.exists()
    assert server.requests == []


def test_the_api_refuses_the_octal_form_with_a_400_field_error(
    api_client, dave
) -> None:  # type: ignore[no-untyped-def]
    api_client.force_authenticate(dave)
    response = api_client.post(
        "/api/v1/endpoints/",
        {
            "name": "Probe",
            "kind": "vllm",
            "base_url": OCTAL_METADATA,
            "location": "in_house",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "base_url" in response.json()
    assert not ServingEndpoint.objects.exists()


# Using a URL stored before the check: clear errors, no 500, no credentials sent.


def test_test_connection_with_a_stored_octal_url_answers_a_clear_error(
    client, dave
) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory()
    store_unchecked(endpoint, OCTAL_METADATA)
    client.force_login(dave)
    response = client.post(
        reverse("endpoints:test", args=[endpoint.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "not allowed" in page or "refused" in page.lower()


def test_test_connection_never_sends_credentials_written_into_the_url(
    client, dave, server
) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory()
    endpoint.set_api_key(STORED_KEY)
    endpoint.save()
    store_unchecked(endpoint, credentials_url(server))
    client.force_login(dave)
    response = client.post(
        reverse("endpoints:test", args=[endpoint.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "Credentials in the URL" in response.content.decode()
    # The loopback server records every Authorization header it gets: none came.
    assert [r.headers.get("authorization") for r in server.requests] == []


def test_a_collection_of_a_stored_credentials_url_fails_without_calling_out(
    db, server
) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory()
    endpoint.set_api_key(STORED_KEY)
    endpoint.save()
    store_unchecked(endpoint, credentials_url(server))
    outcome = services.collect_endpoint(endpoint_id=endpoint.pk)
    assert not outcome.ok
    endpoint.refresh_from_db()
    assert "Credentials in the URL" in endpoint.last_error
    assert endpoint.health != ServingEndpoint.Health.OK
    assert [r.headers.get("authorization") for r in server.requests] == []


def test_a_collection_of_a_stored_octal_url_records_a_clear_error(
    db,
) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory()
    store_unchecked(endpoint, OCTAL_METADATA)
    outcome = services.collect_endpoint(endpoint_id=endpoint.pk)
    assert not outcome.ok
    endpoint.refresh_from_db()
    assert "Not a valid URL" in endpoint.last_error
    assert endpoint.consecutive_failures == 1
