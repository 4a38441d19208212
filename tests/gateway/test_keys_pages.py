"""The "Gateway keys" panel of the use-case page: list, issue once, revoke."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from apps.gateway.keys import (
    authenticate_key,
    issue_gateway_key,
    revoke_gateway_key,
)
from apps.gateway.models import GatewayKey
from apps.usecases.models import AuditEvent
from tests.factories import UseCaseFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def approved(alice):  # type: ignore[no-untyped-def]
    return UseCaseFactory(owner=alice, status="approved")


def panel_url(use_case) -> str:  # type: ignore[no-untyped-def]
    return reverse("gateway_keys:panel", args=[use_case.pk])


def issue_url(use_case) -> str:  # type: ignore[no-untyped-def]
    return reverse("gateway_keys:issue", args=[use_case.pk])


def revoke_url(key) -> str:  # type: ignore[no-untyped-def]
    return reverse("gateway_keys:revoke", args=[key.use_case_id, key.pk])


def shown_secret(html: str) -> str | None:
    match = re.search(r'<code id="gateway-key-value">([^<]+)</code>', html)
    return match.group(1) if match else None


class TestPanel:
    def test_the_use_case_page_loads_the_gateway_panel(self, client, alice, approved):
        client.force_login(alice)
        page = client.get(approved.get_absolute_url()).content.decode()
        assert panel_url(approved) in page
        assert "Gateway keys" in page

    def test_the_owner_sees_keys_with_last_use_and_the_issue_form(
        self, client, alice, approved
    ):
        key, secret = issue_gateway_key(use_case=approved, name="claims-svc", by=alice)
        client.force_login(alice)
        response = client.get(panel_url(approved), headers={"HX-Request": "true"})
        html = response.content.decode()
        assert response.status_code == 200
        assert "<html" not in html  # the fragment only
        assert "claims-svc" in html and key.prefix in html
        assert "Last used" in html
        assert secret not in html
        assert issue_url(approved) in html
        assert revoke_url(key) in html

    @pytest.mark.parametrize("role", ["board", "auditor"])
    def test_board_and_auditors_see_keys_but_no_forms(
        self, client, cast, alice, approved, role
    ):
        key, _ = issue_gateway_key(use_case=approved, name="claims-svc", by=alice)
        client.force_login(cast[role])
        html = client.get(panel_url(approved)).content.decode()
        assert "claims-svc" in html
        assert issue_url(approved) not in html
        assert revoke_url(key) not in html

    def test_procurement_and_other_teams_are_refused(
        self, client, paul, carol, approved
    ):
        for user in (paul, carol):
            client.force_login(user)
            assert client.get(panel_url(approved)).status_code == 403

    def test_a_use_case_not_approved_offers_no_issue_form(self, client, alice):
        draft = UseCaseFactory(owner=alice)
        client.force_login(alice)
        html = client.get(panel_url(draft)).content.decode()
        assert issue_url(draft) not in html
        assert "approved or live" in html

    def test_the_panel_makes_the_same_queries_for_one_key_or_many(
        self, client, alice, dave, approved, django_assert_num_queries
    ):
        issue_gateway_key(use_case=approved, name="one", by=alice)
        client.force_login(alice)
        # Session, user, roles, the use-case, the keys (issuer and revoker
        # joined), the user's team and unread notifications in the header.
        with django_assert_num_queries(7):
            client.get(panel_url(approved))
        for n in range(5):
            key, _ = issue_gateway_key(use_case=approved, name=f"more {n}", by=dave)
        revoke_gateway_key(key=key, by=dave)
        with django_assert_num_queries(7):
            response = client.get(panel_url(approved))
        assert response.content.decode().count("<code>pgw_") == 6


class TestIssue:
    def test_the_owner_issues_a_key_and_sees_the_secret_once(
        self, client, alice, approved
    ):
        client.force_login(alice)
        response = client.post(
            issue_url(approved),
            {"name": "claims-svc", "requests_per_minute": "120", "expires_at": ""},
        )
        assert response.status_code == 200
        assert "no-cache" in response["Cache-Control"]
        secret = shown_secret(response.content.decode())
        assert secret is not None
        key = authenticate_key(secret)
        assert key is not None and key.use_case == approved
        assert key.requests_per_minute == 120 and key.created_by == alice
        assert "shown this once" in response.content.decode()
        # Never again: not on the panel, not on the use-case page, not in the audit.
        assert secret not in client.get(panel_url(approved)).content.decode()
        assert secret not in client.get(approved.get_absolute_url()).content.decode()
        event = AuditEvent.objects.get(kind="gateway.key_issued")
        assert secret not in event.summary + str(event.data)

    def test_platform_issues_a_key(self, client, dave, approved):
        client.force_login(dave)
        response = client.post(issue_url(approved), {"name": "platform-probe"})
        assert shown_secret(response.content.decode())
        assert GatewayKey.objects.get().created_by == dave

    def test_bad_input_shows_field_errors_and_creates_nothing(
        self, client, alice, approved
    ):
        client.force_login(alice)
        response = client.post(
            issue_url(approved),
            {"name": "", "requests_per_minute": "0", "expires_at": "2001-01-01T10:00"},
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert 'id="id_name-error"' in html
        assert 'id="id_requests_per_minute-error"' in html
        assert shown_secret(html) is None
        assert GatewayKey.objects.count() == 0

    def test_an_expiry_in_the_past_is_a_field_error(self, client, alice, approved):
        client.force_login(alice)
        response = client.post(
            issue_url(approved), {"name": "late", "expires_at": "2001-01-01T10:00"}
        )
        assert 'id="id_expires_at-error"' in response.content.decode()
        assert GatewayKey.objects.count() == 0

    def test_a_use_case_not_approved_is_refused_and_nothing_created(
        self, client, alice
    ):
        submitted = UseCaseFactory(owner=alice, status="submitted")
        client.force_login(alice)
        response = client.post(issue_url(submitted), {"name": "early"})
        assert response.status_code == 409
        assert "approved or live" in response.content.decode()
        assert GatewayKey.objects.count() == 0
        assert not AuditEvent.objects.filter(kind="gateway.key_issued").exists()

    @pytest.mark.parametrize("role", ["board", "auditor", "procurement"])
    def test_other_roles_may_not_issue(self, client, cast, approved, role):
        client.force_login(cast[role])
        assert client.post(issue_url(approved), {"name": "x"}).status_code == 403
        assert GatewayKey.objects.count() == 0

    def test_issuing_needs_a_post(self, client, alice, approved):
        client.force_login(alice)
        assert client.get(issue_url(approved)).status_code == 405
        assert GatewayKey.objects.count() == 0


class TestRevoke:
    def test_the_owner_revokes_a_key_from_the_panel(self, client, alice, approved):
        key, secret = issue_gateway_key(use_case=approved, name="old", by=alice)
        client.force_login(alice)
        response = client.post(revoke_url(key))
        assert response.status_code == 302
        assert response["Location"].endswith(
            approved.get_absolute_url() + "#gateway-keys"
        )
        key.refresh_from_db()
        assert key.revoked_by == alice and key.revoked_at is not None
        assert authenticate_key(secret) is None
        html = client.get(panel_url(approved)).content.decode()
        assert "revoked" in html and revoke_url(key) not in html

    def test_revoking_needs_a_post_with_csrf(self, alice, approved):
        from django.test import Client

        key, _ = issue_gateway_key(use_case=approved, name="k", by=alice)
        client = Client(enforce_csrf_checks=True)
        client.force_login(alice)
        assert client.get(revoke_url(key)).status_code == 405
        assert client.post(revoke_url(key)).status_code == 403
        key.refresh_from_db()
        assert key.revoked_at is None

    def test_the_revoke_button_asks_for_confirmation(self, client, alice, approved):
        issue_gateway_key(use_case=approved, name="k", by=alice)
        client.force_login(alice)
        html = client.get(panel_url(approved)).content.decode()
        assert 'data-confirm="Revoke “k”?' in html  # static/js/portal.js asks

    @pytest.mark.parametrize("role", ["board", "auditor", "other_requester"])
    def test_others_may_not_revoke(self, client, cast, alice, approved, role):
        key, _ = issue_gateway_key(use_case=approved, name="k", by=alice)
        client.force_login(cast[role])
        assert client.post(revoke_url(key)).status_code == 403
        key.refresh_from_db()
        assert key.revoked_at is None


class TestAdmin:
    def test_the_admin_lists_keys_and_revokes_them_with_an_audit_event(
        self, client, root, alice, approved
    ):
        key, secret = issue_gateway_key(use_case=approved, name="k", by=alice)
        client.force_login(root)
        url = reverse("admin:gateway_gatewaykey_changelist")
        html = client.get(url).content.decode()
        assert key.prefix in html and secret not in html and key.key_hash not in html
        response = client.post(
            url, {"action": "revoke", "_selected_action": [key.pk]}, follow=True
        )
        assert response.status_code == 200
        assert authenticate_key(secret) is None
        assert AuditEvent.objects.filter(
            kind="gateway.key_revoked", actor=root
        ).exists()
