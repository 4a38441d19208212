"""Deactivating a user revokes their API tokens and gateway keys at once; local
password sign-in can be switched off except for superusers; without OIDC settings
nothing about signing in changes."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.accounts import claim_mapping
from apps.accounts.models import ApiToken, IdpGroupMapping
from apps.gateway import keys
from apps.usecases.models import AuditEvent
from tests.factories import UseCaseFactory

pytestmark = pytest.mark.django_db


def test_deactivating_a_user_revokes_their_api_tokens(api_client, paul, erin):
    _, key = ApiToken.issue(user=paul, name="script")
    ApiToken.issue(user=erin, name="theirs")
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api_client.get("/api/v1/use-cases/").status_code == 200

    paul.is_active = False
    paul.save()

    assert api_client.get("/api/v1/use-cases/").status_code == 401
    assert ApiToken.objects.get(user=paul).revoked_at is not None
    # Reactivating does not bring the token back.
    paul.is_active = True
    paul.save()
    assert api_client.get("/api/v1/use-cases/").status_code == 401
    # Nobody else's token is touched.
    assert ApiToken.objects.get(user=erin).is_active
    assert AuditEvent.objects.filter(
        kind="accounts.user_deactivated", actor=paul
    ).exists()


def test_deactivating_a_user_revokes_the_gateway_keys_they_issued(alice, dave):
    use_case = UseCaseFactory(owner=alice, status="approved")
    _, alices_secret = keys.issue_gateway_key(use_case=use_case, name="app", by=alice)
    _, daves_secret = keys.issue_gateway_key(use_case=use_case, name="ops", by=dave)
    assert keys.authenticate_key(alices_secret) is not None

    alice.is_active = False
    alice.save()

    assert keys.authenticate_key(alices_secret) is None
    assert keys.authenticate_key(daves_secret) is not None
    assert (
        AuditEvent.objects.filter(kind="gateway.key_revoked", use_case=use_case).count()
        == 1
    )


def test_saving_an_active_user_revokes_nothing(paul):
    ApiToken.issue(user=paul, name="script")
    paul.first_name = "Paul"
    paul.save()
    paul.save(update_fields=["last_login"])
    assert ApiToken.objects.get(user=paul).is_active


def test_password_sign_in_switched_off_refuses_everyone_but_superusers(
    client, settings, alice, root
):
    settings.LOCAL_PASSWORD_SIGN_IN = False
    for user in (alice, root):
        user.set_password("pw")
        user.save()
    response = client.post(
        "/accounts/login/?local=1", {"username": "alice", "password": "pw"}
    )
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "break-glass" in response.content.decode()

    response = client.post(
        "/accounts/login/?local=1", {"username": "root", "password": "pw"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(root.pk)


def test_password_sign_in_switched_off_ends_password_sessions_of_non_superusers(
    client, settings, alice
):
    alice.set_password("pw")
    alice.save()
    assert client.login(username="alice", password="pw")
    assert client.get("/use-cases/").status_code == 200
    settings.LOCAL_PASSWORD_SIGN_IN = False
    assert client.get("/use-cases/").status_code == 302  # to the sign-in page


def test_the_sign_in_page_hides_the_password_form_when_it_is_switched_off(
    client, settings
):
    settings.LOCAL_PASSWORD_SIGN_IN = False
    page = client.get("/accounts/login/").content.decode()
    assert 'name="password"' not in page
    assert "break-glass" in page
    assert 'name="password"' in client.get("/accounts/login/?local=1").content.decode()


def test_without_oidc_settings_sign_in_is_the_password_form_only(client, alice):
    page = client.get("/accounts/login/").content.decode()
    assert 'id="sso-sign-in"' not in page
    assert 'name="password"' in page
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/", {"code": "x", "state": "y"}).status_code == 404
    alice.set_password("demo")
    alice.save()
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "demo"}
    )
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


def test_the_maps_read_pairs_and_json_and_refuse_unknown_roles(settings):
    settings.OIDC_ROLE_MAP = "ai-board=board, ai-ops=platform,ai-ops=auditor"
    assert claim_mapping.role_map() == [
        ("ai-board", "board"),
        ("ai-ops", "platform"),
        ("ai-ops", "auditor"),
    ]
    settings.OIDC_ROLE_MAP = '{"CN=AI, OU=Board": ["board", "auditor"]}'
    assert claim_mapping.resolve(["CN=AI, OU=Board"]).roles == {"board", "auditor"}
    settings.OIDC_ROLE_MAP = "ai-board=admin"
    with pytest.raises(ImproperlyConfigured):
        claim_mapping.role_map()
    settings.OIDC_ROLE_MAP = "ai-board"
    with pytest.raises(ImproperlyConfigured):
        claim_mapping.role_map()


def test_the_first_mapped_team_wins_and_no_mapped_team_means_none(settings):
    settings.OIDC_ROLE_MAP = "staff=requester"
    settings.OIDC_TEAM_MAP = "claims-dept=claims,health-dept=health"
    assert claim_mapping.resolve(["health-dept", "claims-dept", "staff"]).team_slug == (
        "claims"
    )
    assert claim_mapping.resolve(["staff"]).team_slug is None


def test_mappings_kept_in_the_admin_add_to_the_environments(
    settings, client, root, health
):
    settings.OIDC_ROLE_MAP = "ai-board=board"
    settings.OIDC_TEAM_MAP = ""
    client.force_login(root)
    response = client.post(
        "/admin/accounts/idpgroupmapping/add/",
        {"group": "CN=Health AI", "role": "requester", "team": health.pk},
    )
    assert response.status_code == 302
    access = claim_mapping.resolve(["CN=Health AI"])
    assert access.roles == {"requester"}
    assert access.team_slug == "health"
    assert claim_mapping.resolve(["ai-board"]).roles == {"board"}
    # A mapping that gives nothing is refused by the database.
    response = client.post(
        "/admin/accounts/idpgroupmapping/add/", {"group": "empty", "role": ""}
    )
    assert response.status_code == 200
    assert list(IdpGroupMapping.objects.values_list("group", flat=True)) == [
        "CN=Health AI"
    ]
