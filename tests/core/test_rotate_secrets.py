"""`manage.py rotate_secrets` re-encrypts every stored secret under the first key."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command

from apps.core import crypto
from apps.endpoints.models import ServingEndpoint
from tests.factories import ServingEndpointFactory

OLD, NEW, OTHER = (Fernet.generate_key().decode() for _ in range(3))


def rotate() -> str:
    out = StringIO()
    call_command("rotate_secrets", stdout=out)
    return out.getvalue()


def endpoint_with_key(secret: str) -> ServingEndpoint:
    endpoint = ServingEndpointFactory()
    endpoint.set_api_key(secret)
    endpoint.save()
    return endpoint


@pytest.mark.django_db
def test_after_rotation_the_new_key_alone_opens_every_secret(settings):
    settings.FIELD_ENCRYPTION_KEY = OLD
    first = endpoint_with_key("sk-first-secret")
    second = endpoint_with_key("sk-second-secret")
    keyless = ServingEndpointFactory()
    settings.FIELD_ENCRYPTION_KEY = f"{NEW},{OLD}"
    output = rotate()
    assert "endpoints.ServingEndpoint.api_key_encrypted: 2 re-encrypted" in output
    assert "sk-" not in output
    settings.FIELD_ENCRYPTION_KEY = NEW
    for endpoint, secret in ((first, "sk-first-secret"), (second, "sk-second-secret")):
        endpoint.refresh_from_db()
        assert endpoint.decrypt_api_key() == secret
    keyless.refresh_from_db()
    assert keyless.api_key_encrypted == ""


@pytest.mark.django_db
def test_running_it_again_changes_nothing(settings):
    settings.FIELD_ENCRYPTION_KEY = OLD
    endpoint = endpoint_with_key("sk-secret")
    settings.FIELD_ENCRYPTION_KEY = f"{NEW},{OLD}"
    rotate()
    endpoint.refresh_from_db()
    stored = endpoint.api_key_encrypted
    output = rotate()
    assert "0 re-encrypted, 1 already under the first key" in output
    endpoint.refresh_from_db()
    assert endpoint.api_key_encrypted == stored


@pytest.mark.django_db
def test_a_secret_no_key_opens_is_reported_and_the_others_still_rotate(settings):
    settings.FIELD_ENCRYPTION_KEY = OTHER
    lost = endpoint_with_key("sk-lost")
    settings.FIELD_ENCRYPTION_KEY = OLD
    kept = endpoint_with_key("sk-kept")
    settings.FIELD_ENCRYPTION_KEY = f"{NEW},{OLD}"
    before = ServingEndpoint.objects.get(pk=lost.pk).api_key_encrypted
    with pytest.raises(
        CommandError, match=rf"1 secret\(s\).*ServingEndpoint {lost.pk}"
    ):
        rotate()
    assert ServingEndpoint.objects.get(pk=lost.pk).api_key_encrypted == before
    settings.FIELD_ENCRYPTION_KEY = NEW
    kept.refresh_from_db()
    assert kept.decrypt_api_key() == "sk-kept"
    with pytest.raises(crypto.DecryptionError):
        ServingEndpoint.objects.get(pk=lost.pk).decrypt_api_key()


def test_every_field_that_stores_a_secret_is_found():
    found = {(model._meta.label, field) for model, field in crypto.encrypted_fields()}
    assert ("endpoints.ServingEndpoint", "api_key_encrypted") in found
