"""Registering endpoints: the SSRF guard at the door, and a key that never comes back."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest
from django.urls import reverse

from apps.endpoints.models import ServingEndpoint
from apps.usecases.models import AuditEvent
from tests.factories import (
    EndpointMappingFactory,
    ServingEndpointFactory,
    UseCaseFactory,
)
from tests.servers import FakeServer

SECRET = "sk-live-9f8e7d6c5b4a-SECRET"

FORM = {
    "name": "vLLM 8B",
    "kind": "vllm",
    "location": "in_house",
    "enabled": "on",
    "poll_interval_seconds": "60",
    "hourly_cost": "2.50",
    "chat_capable": "on",
}


def api_payload(**extra: Any) -> dict[str, Any]:
    return {
        "name": "vLLM 8B",
        "kind": "vllm",
        "location": "in_house",
        "poll_interval_seconds": 60,
        "hourly_cost": "2.50",
        **extra,
    }


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Fake DNS: names in the dict resolve to the given address, others fail."""
    answers: dict[str, str] = {"localhost": "127.0.0.1"}
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host in answers:
            ip = answers[host]
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (ip, port or 80))]
        if host[0].isdigit() or ":" in host:
            return real(host, port, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://2852039166/",  # 169.254.169.254 in decimal
        "http://0xa9.0xfe.0xa9.0xfe/",
        "http://metadata.internal/",  # resolves to the metadata address
        "file:///etc/passwd",
    ],
)
def test_it_refuses_metadata_and_link_local_urls_at_registration(
    client, dave, resolver, url: str
) -> None:  # type: ignore[no-untyped-def]
    resolver["metadata.internal"] = "169.254.169.254"
    client.force_login(dave)
    response = client.post(reverse("endpoints:create"), {**FORM, "base_url": url})
    assert response.status_code == 200
    assert response.context["form"].errors["base_url"]
    assert not ServingEndpoint.objects.exists()


def test_it_refuses_localhost_by_name_when_loopback_is_not_allowed(
    api_client, dave, resolver, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.ENDPOINT_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    api_client.force_authenticate(dave)
    for url in ("http://localhost:8000", "http://[::1]:8000", "http://127.1:8000"):
        response = api_client.post(
            "/api/v1/endpoints/", api_payload(base_url=url), format="json"
        )
        assert response.status_code == 400, url
        assert "base_url" in response.json()
    assert not ServingEndpoint.objects.exists()


def test_it_accepts_loopback_when_its_network_is_allowed(
    api_client, dave, server: FakeServer
) -> None:  # type: ignore[no-untyped-def]
    api_client.force_authenticate(dave)
    response = api_client.post(
        "/api/v1/endpoints/", api_payload(base_url=server.url), format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["base_url"] == server.url


def test_a_redirect_to_a_refused_address_is_not_followed(
    client, dave, server: FakeServer
) -> None:  # type: ignore[no-untyped-def]
    server.redirect("/metrics", location="http://169.254.169.254/latest/meta-data/")
    endpoint = ServingEndpointFactory(base_url=server.url)
    client.force_login(dave)
    response = client.post(
        reverse("endpoints:test", args=[endpoint.pk]), headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert "Connection failed" in body
    assert "redirected" in body
    assert [r.path for r in server.requests] == ["/metrics"]


def test_the_api_key_is_stored_encrypted_and_never_shown_anywhere(
    client, api_client, dave, erin, server: FakeServer, caplog
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    server.require_key = SECRET
    server.set_vllm(model="m", requests=1, prompt_tokens=2, generation_tokens=3)
    client.force_login(dave)
    response = client.post(
        reverse("endpoints:create"),
        {**FORM, "base_url": server.url, "api_key": SECRET},
    )
    assert response.status_code == 302
    endpoint = ServingEndpoint.objects.get()
    assert SECRET not in endpoint.api_key_encrypted
    assert endpoint.decrypt_api_key() == SECRET

    # The key works (the probe and a poll send it) ...
    probe = client.post(
        reverse("endpoints:test", args=[endpoint.pk]), headers={"HX-Request": "true"}
    )
    assert "Connected" in probe.content.decode()
    from apps.endpoints import services

    assert services.collect_endpoint(endpoint_id=endpoint.pk).ok
    assert server.requests[-1].headers["authorization"] == f"Bearer {SECRET}"

    # ... and a wrong key's error does not echo it either.
    server.require_key = "another"
    services.collect_endpoint(endpoint_id=endpoint.pk)

    pages = [
        client.get(reverse("endpoints:list")),
        client.get(reverse("endpoints:detail", args=[endpoint.pk])),
        client.get(reverse("endpoints:edit", args=[endpoint.pk])),
    ]
    api_client.force_authenticate(erin)
    pages += [
        api_client.get("/api/v1/endpoints/"),
        api_client.get(f"/api/v1/endpoints/{endpoint.pk}/"),
        api_client.get("/api/v1/usage/"),
    ]
    api_client.force_authenticate(dave)
    pages.append(
        api_client.patch(
            f"/api/v1/endpoints/{endpoint.pk}/", {"api_key": SECRET}, format="json"
        )
    )
    for page in pages:
        assert page.status_code == 200
        body = page.content.decode()
        assert SECRET not in body
        assert endpoint.api_key_encrypted not in body
    assert pages[3].json()["results"][0]["has_api_key"] is True
    assert SECRET not in caplog.text
    events = AuditEvent.objects.filter(kind__startswith="endpoint.")
    assert events.exists()
    assert all(SECRET not in str(e.data) + e.summary for e in events)


def test_a_blank_key_on_edit_keeps_the_current_one(client, dave) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory(base_url="http://127.0.0.1:8101")
    endpoint.set_api_key(SECRET)
    endpoint.save()
    client.force_login(dave)
    data = {**FORM, "name": endpoint.name, "base_url": endpoint.base_url, "api_key": ""}
    assert (
        client.post(reverse("endpoints:edit", args=[endpoint.pk]), data).status_code
        == 302
    )
    endpoint.refresh_from_db()
    assert endpoint.decrypt_api_key() == SECRET

    data["clear_api_key"] = "on"
    client.post(reverse("endpoints:edit", args=[endpoint.pk]), data)
    endpoint.refresh_from_db()
    assert not endpoint.has_api_key


def test_keys_survive_a_rotation_of_the_encryption_key(settings) -> None:  # type: ignore[no-untyped-def]
    from cryptography.fernet import Fernet

    from apps.core import crypto

    old = settings.FIELD_ENCRYPTION_KEY
    token = crypto.encrypt(SECRET)
    settings.FIELD_ENCRYPTION_KEY = f"{Fernet.generate_key().decode()},{old}"
    assert crypto.decrypt(token) == SECRET
    rotated = crypto.rotate(token)
    settings.FIELD_ENCRYPTION_KEY = settings.FIELD_ENCRYPTION_KEY.split(",")[0]
    assert crypto.decrypt(rotated) == SECRET
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(token)


@pytest.mark.parametrize("who", ["requester", "board", "procurement", "auditor"])
def test_only_platform_registers_or_changes_endpoints(
    client, api_client, cast, who: str
) -> None:  # type: ignore[no-untyped-def]
    user = cast[who]
    endpoint = ServingEndpointFactory()
    EndpointMappingFactory(
        endpoint=endpoint,
        use_case=UseCaseFactory(owner=user, team=user.team)
        if who == "requester"
        else UseCaseFactory(),
    )
    before = (ServingEndpoint.objects.count(), endpoint.name, endpoint.health)
    client.force_login(user)
    assert client.get(reverse("endpoints:create")).status_code == 403
    assert client.get(reverse("endpoints:edit", args=[endpoint.pk])).status_code == 403
    assert client.post(reverse("endpoints:test", args=[endpoint.pk])).status_code == 403
    api_client.force_authenticate(user)
    response = api_client.post(
        "/api/v1/endpoints/", api_payload(base_url="http://127.0.0.1:1"), format="json"
    )
    assert response.status_code == 403
    response = api_client.patch(
        f"/api/v1/endpoints/{endpoint.pk}/", {"name": "x"}, format="json"
    )
    assert response.status_code == 403
    endpoint.refresh_from_db()
    assert (ServingEndpoint.objects.count(), endpoint.name, endpoint.health) == before
