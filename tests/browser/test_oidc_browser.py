"""Single sign-on end to end in Chromium, through a real OpenID provider on loopback.

The provider is the npm package ``oidc-provider`` (tests/oidc/provider.mjs) in its
own process; the portal finds it by discovery and talks to it through the guarded
client. Its accounts file plays the company directory: rewriting it changes a
person's groups, or disables them, at the identity provider.
"""

from __future__ import annotations

import re

import httpx
import pytest

from apps.accounts import oidc
from apps.accounts.models import ApiToken, User
from apps.usecases.models import AuditEvent
from tests.oidc.provider import CLIENT_ID, CLIENT_SECRET, start_provider

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ANN = {"email": "ann@example.com", "name": "Ann Example"}


@pytest.fixture
def provider(tmp_path, live_server, settings):  # type: ignore[no-untyped-def]
    running = start_provider(
        directory=tmp_path,
        redirect_uri=f"{live_server.url}/oidc/callback/",
        post_logout_uri=f"{live_server.url}/accounts/login/",
        accounts={"ann": {**ANN, "groups": ["ai-requesters", "claims-dept"]}},
    )
    settings.OIDC_ISSUER = running.issuer
    settings.OIDC_PROVIDER_NAME = "Example Corp"
    settings.OIDC_RP_CLIENT_ID = CLIENT_ID
    settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_RP_SCOPES = "openid email profile groups"
    settings.OIDC_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    settings.OIDC_ROLE_MAP = "ai-requesters=requester,ai-board=board"
    settings.OIDC_TEAM_MAP = "claims-dept=claims"
    oidc.forget_metadata()
    yield running
    running.stop()
    oidc.forget_metadata()


def sign_in_at_provider(page, live_server, login: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/accounts/login/")
    page.click("#sso-sign-in:has-text('Sign in with Example Corp')")
    page.wait_for_selector("input[name=login]")
    assert page.url.startswith("http://127.0.0.1:")  # at the provider
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "whatever the directory checks")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile("^" + re.escape(live_server.url)))
    page.wait_for_load_state("domcontentloaded")


def sign_out(page, live_server) -> None:  # type: ignore[no-untyped-def]
    page.click("nav details.dropdown summary")
    page.click("button:has-text('Sign out')")
    # The provider asks before ending its own session (RP-initiated logout).
    page.click("button[name=logout][value=yes]")
    page.wait_for_url(f"{live_server.url}/accounts/login/")


def signed_in(page, live_server) -> bool:  # type: ignore[no-untyped-def]
    return page.url.startswith(live_server.url) and not any(
        part in page.url for part in ("/accounts/login/", "/oidc/")
    )


def api_status(live_server, key: str) -> int:  # type: ignore[no-untyped-def]
    return httpx.get(
        f"{live_server.url}/api/v1/use-cases/",
        headers={"Authorization": f"Bearer {key}"},
    ).status_code


def test_sign_in_creates_maps_updates_and_removes_access_from_the_providers_groups(
    browser_page, live_server, provider, claims
):
    page = browser_page
    callbacks: list[str] = []
    page.on(
        "request",
        lambda request: (
            callbacks.append(request.url) if "/oidc/callback/" in request.url else None
        ),
    )

    # First sign-in: the account is created with the mapped role and team.
    sign_in_at_provider(page, live_server, "ann")
    assert signed_in(page, live_server)
    ann = User.objects.get(oidc_identity__subject="ann")
    assert (ann.username, ann.email) == ("ann", "ann@example.com")
    assert ann.roles == {"requester"}
    assert ann.team == claims
    assert not ann.has_usable_password()
    assert "Ann Example" in page.inner_text("nav")
    _, key = ApiToken.issue(user=ann, name="Ann's script")
    assert api_status(live_server, key) == 200

    # The provider's answer cannot be replayed: its state was used once.
    page.goto(callbacks[-1])
    assert page.get_attribute("#sso-refusal", "data-reason") == "unknown_state"
    page.goto("/")

    # Signing out also ends the session at the provider.
    sign_out(page, live_server)

    # The directory moves Ann to the board: her role follows at the next sign-in,
    # and the team she no longer belongs to is taken away.
    provider.set_accounts({"ann": {**ANN, "groups": ["ai-board"]}})
    sign_in_at_provider(page, live_server, "ann")  # the provider asks again
    ann = User.objects.get(pk=ann.pk)
    assert ann.roles == {"board"}
    assert ann.team is None
    assert AuditEvent.objects.filter(
        kind="accounts.sso_access_changed", actor=ann
    ).exists()
    sign_out(page, live_server)

    # Removed from every mapped group: refused, deactivated, the token stops.
    provider.set_accounts({"ann": {**ANN, "groups": ["canteen-committee"]}})
    sign_in_at_provider(page, live_server, "ann")
    assert page.get_attribute("#sso-refusal", "data-reason") == "no_mapped_group"
    assert "deactivated" in page.inner_text("main")
    ann = User.objects.get(pk=ann.pk)
    assert not ann.is_active
    assert api_status(live_server, key) == 401
    assert ApiToken.objects.get(user=ann).revoked_at is not None
    page.goto("/")
    assert "/accounts/login/" in page.url  # not signed in

    # Back in a mapped group is not enough: the portal's deactivation stands.
    provider.set_accounts({"ann": {**ANN, "groups": ["ai-board"]}})
    page.context.clear_cookies()
    sign_in_at_provider(page, live_server, "ann")
    assert page.get_attribute("#sso-refusal", "data-reason") == "account_disabled"
    assert User.objects.filter(is_active=True, pk=ann.pk).count() == 0


def test_someone_disabled_at_the_provider_is_refused_and_no_account_is_made(
    browser_page, live_server, provider
):
    provider.set_accounts({"bea": {**ANN, "groups": ["ai-board"], "disabled": True}})
    page = browser_page
    page.goto("/accounts/login/")
    page.click("#sso-sign-in")
    page.fill("input[name=login]", "bea")
    page.fill("input[name=password]", "x")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile("^" + re.escape(live_server.url)))
    assert page.get_attribute("#sso-refusal", "data-reason") == "idp_error"
    assert not User.objects.filter(username="bea").exists()
    assert AuditEvent.objects.filter(
        kind="accounts.sso_refused", data__reason="idp_error"
    ).exists()


def test_demo_password_sign_in_still_works_beside_single_sign_on(
    browser_page, live_server, provider, alice
):
    page = browser_page
    page.login("alice")
    assert signed_in(page, live_server)
    assert page.locator("button:has-text('Sign out')").count() == 1
