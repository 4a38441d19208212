"""Single sign-on refuses ID tokens that are not this sign-in's, with a page and an
audit event, and creates or changes no account.

The provider is the real one (tests/oidc/provider.mjs): discovery and its JWKS are
fetched from it through the guarded client. Its token endpoint would only hand out
honest tokens, so here the token answer is replaced by a crafted one, signed with
the provider's own key (or another key); the browser test
(tests/browser/test_oidc_browser.py) runs the honest exchange end to end.
"""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from apps.accounts import oidc
from apps.accounts.models import OidcIdentity, User
from apps.usecases.models import AuditEvent
from tests.oidc.provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    KID,
    new_rsa_key,
    start_provider,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def provider(tmp_path_factory):  # type: ignore[no-untyped-def]
    running = start_provider(
        directory=tmp_path_factory.mktemp("oidc"),
        redirect_uri="http://testserver/oidc/callback/",
        post_logout_uri="http://testserver/accounts/login/",
        accounts={},
    )
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def sso(settings, provider):  # type: ignore[no-untyped-def]
    settings.OIDC_ISSUER = provider.issuer
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.OIDC_ROLE_MAP = "ai-board=board"
    settings.OIDC_TEAM_MAP = ""
    oidc.forget_metadata()
    yield
    oidc.forget_metadata()


def start_sign_in(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]  # PKCE
    return {"state": query["state"][0], "nonce": query["nonce"][0]}


def claims(provider, nonce: str, **overrides):  # type: ignore[no-untyped-def]
    now = int(time.time())
    base = {
        "iss": provider.issuer,
        "sub": "ann",
        "aud": CLIENT_ID,
        "iat": now,
        "exp": now + 300,
        "nonce": nonce,
        "preferred_username": "ann",
        "groups": ["ai-board"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def answer_with(monkeypatch, id_token: str) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(
        oidc.OidcBackend,
        "get_token",
        lambda self, payload: {"id_token": id_token, "access_token": ""},
    )


def callback(client, state: str):  # type: ignore[no-untyped-def]
    return client.get("/oidc/callback/", {"code": "from-the-provider", "state": state})


def assert_refused(response, reason: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 403
    assert f'data-reason="{reason}"' in response.content.decode()
    assert not User.objects.exists()
    assert not OidcIdentity.objects.exists()
    event = AuditEvent.objects.get(kind="accounts.sso_refused")
    assert event.data["reason"] == reason
    assert "_auth_user_id" not in response.wsgi_request.session


def test_a_token_signed_by_the_provider_for_this_sign_in_creates_the_account(
    client, provider, monkeypatch, settings
):
    settings.LOCAL_PASSWORD_SIGN_IN = False  # single sign-on is not a password
    flow = start_sign_in(client)
    answer_with(monkeypatch, provider.sign(claims(provider, flow["nonce"])))
    response = callback(client, flow["state"])
    assert response.status_code == 302
    user = User.objects.get(oidc_identity__subject="ann")
    assert user.roles == {"board"}
    assert client.get("/").wsgi_request.user == user


def test_a_token_for_another_audience_is_refused(client, provider, monkeypatch):
    flow = start_sign_in(client)
    token = provider.sign(claims(provider, flow["nonce"], aud="another-app"))
    answer_with(monkeypatch, token)
    assert_refused(callback(client, flow["state"]), "wrong_audience")


def test_a_token_shared_with_another_audience_without_our_azp_is_refused(
    client, provider, monkeypatch
):
    flow = start_sign_in(client)
    token = provider.sign(
        claims(
            provider, flow["nonce"], aud=[CLIENT_ID, "another-app"], azp="another-app"
        )
    )
    answer_with(monkeypatch, token)
    assert_refused(callback(client, flow["state"]), "wrong_audience")


def test_an_expired_token_is_refused(client, provider, monkeypatch):
    flow = start_sign_in(client)
    an_hour_ago = int(time.time()) - 3600
    token = provider.sign(
        claims(provider, flow["nonce"], iat=an_hour_ago - 300, exp=an_hour_ago)
    )
    answer_with(monkeypatch, token)
    assert_refused(callback(client, flow["state"]), "expired")


def test_a_tampered_token_is_refused(client, provider, monkeypatch):
    flow = start_sign_in(client)
    header, _, signature = provider.sign(claims(provider, flow["nonce"])).split(".")
    # Same signature, payload rewritten to claim the platform group.
    forged = claims(provider, flow["nonce"], groups=["ai-board", "ai-platform"])
    payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=")
    answer_with(monkeypatch, f"{header}.{payload.decode()}.{signature}")
    assert_refused(callback(client, flow["state"]), "bad_signature")


def test_a_token_signed_by_another_key_under_the_providers_key_id_is_refused(
    client, provider, monkeypatch
):
    flow = start_sign_in(client)
    token = provider.sign(claims(provider, flow["nonce"]), key=new_rsa_key(), kid=KID)
    answer_with(monkeypatch, token)
    assert_refused(callback(client, flow["state"]), "bad_signature")


def test_a_token_from_an_unknown_issuer_is_refused(client, provider, monkeypatch):
    flow = start_sign_in(client)
    token = provider.sign(claims(provider, flow["nonce"], iss="https://idp.example"))
    answer_with(monkeypatch, token)
    assert_refused(callback(client, flow["state"]), "unknown_issuer")


def test_a_token_replayed_from_another_sign_in_fails_the_nonce(
    client, provider, monkeypatch
):
    earlier = start_sign_in(client)
    replayed = provider.sign(claims(provider, earlier["nonce"]))
    flow = start_sign_in(client)
    answer_with(monkeypatch, replayed)
    assert_refused(callback(client, flow["state"]), "nonce_mismatch")


def test_a_replayed_state_is_refused_even_after_a_good_sign_in(
    client, provider, monkeypatch
):
    flow = start_sign_in(client)
    answer_with(monkeypatch, provider.sign(claims(provider, flow["nonce"])))
    assert callback(client, flow["state"]).status_code == 302
    user = User.objects.get()
    client.logout()
    response = callback(client, flow["state"])
    assert response.status_code == 403
    assert 'data-reason="unknown_state"' in response.content.decode()
    assert AuditEvent.objects.filter(
        kind="accounts.sso_refused", data__reason="unknown_state"
    ).exists()
    assert list(User.objects.all()) == [user]
    assert "_auth_user_id" not in response.wsgi_request.session


def test_a_state_that_never_started_here_is_refused(client, provider, monkeypatch):
    answer_with(monkeypatch, provider.sign(claims(provider, "whatever")))
    assert_refused(callback(client, "forged-state"), "unknown_state")


def test_a_refused_token_leaves_an_existing_account_unchanged(
    client, provider, monkeypatch
):
    flow = start_sign_in(client)
    answer_with(monkeypatch, provider.sign(claims(provider, flow["nonce"])))
    callback(client, flow["state"])
    client.logout()
    user = User.objects.get()
    before = (user.email, user.team_id, set(user.groups.values_list("name", flat=True)))
    flow = start_sign_in(client)
    token = provider.sign(
        claims(provider, flow["nonce"], aud="another-app", groups=["ai-platform"])
    )
    answer_with(monkeypatch, token)
    response = callback(client, flow["state"])
    assert response.status_code == 403
    user = User.objects.get()
    after = (user.email, user.team_id, set(user.groups.values_list("name", flat=True)))
    assert after == before and user.is_active


def test_an_issuer_whose_discovery_names_another_issuer_is_refused(
    client, provider, settings
):
    # The document at <issuer>/.well-known must name that issuer (OIDC Discovery 4.3).
    settings.OIDC_ISSUER = provider.issuer.replace("127.0.0.1", "localhost")
    settings.OIDC_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 403
    assert 'data-reason="provider_unreachable"' in response.content.decode()


def test_a_provider_on_a_private_network_is_refused_unless_allowed(
    client, provider, settings
):
    settings.OIDC_ALLOWED_NETWORKS = []
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 403
    assert 'data-reason="provider_unreachable"' in response.content.decode()
