"""`/api/v1/use-cases/{id}/gateway-keys/`: issue, list and revoke, per role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import ApiToken
from apps.gateway.keys import authenticate_key
from apps.gateway.models import GatewayKey
from apps.usecases.models import AuditEvent
from tests.factories import UseCaseFactory, UserFactory

pytestmark = pytest.mark.django_db


def keys_url(use_case) -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/use-cases/{use_case.pk}/gateway-keys/"


def key_url(key) -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/use-cases/{key.use_case_id}/gateway-keys/{key.pk}/"


@pytest.fixture
def approved(alice):  # type: ignore[no-untyped-def]
    """Alice's (Claims) approved internal use-case: other teams can see it."""
    return UseCaseFactory(owner=alice, status="approved")


def issue(api_client, user, use_case, **body):  # type: ignore[no-untyped-def]
    api_client.force_authenticate(user)
    return api_client.post(
        keys_url(use_case), {"name": "claims-service", **body}, format="json"
    )


class TestIssue:
    def test_the_owner_issues_a_key_and_gets_its_secret_once(
        self, api_client, alice, approved
    ):
        expires = timezone.now() + timedelta(days=30)
        response = issue(
            api_client,
            alice,
            approved,
            expires_at=expires.isoformat(),
            requests_per_minute=60,
            tokens_per_minute=20_000,
        )
        assert response.status_code == 201, response.content
        assert response["Cache-Control"] == "no-store"
        body = response.json()
        secret = body["key"]
        assert secret.startswith("pgw_")
        assert body["prefix"] == secret[:12]
        assert body["name"] == "claims-service"
        assert body["requests_per_minute"] == 60
        assert body["tokens_per_minute"] == 20_000
        assert body["created_by"] == "alice"
        assert body["active"] is True
        key = GatewayKey.objects.get(pk=body["id"])
        assert key.use_case == approved
        assert key.key_hash != secret and secret not in key.key_hash
        assert authenticate_key(secret) == key

    def test_platform_issues_a_key_for_a_live_use_case(self, api_client, dave, alice):
        live = UseCaseFactory(owner=alice, status="live")
        response = issue(api_client, dave, live)
        assert response.status_code == 201, response.content
        assert response.json()["created_by"] == "dave"

    def test_a_superuser_issues_a_key(self, api_client, root, approved):
        assert issue(api_client, root, approved).status_code == 201

    def test_issuing_is_audited_without_the_secret(self, api_client, alice, approved):
        secret = issue(api_client, alice, approved).json()["key"]
        event = AuditEvent.objects.get(kind="gateway.key_issued")
        assert event.use_case == approved
        assert event.actor == alice
        assert event.data["prefix"] == secret[:12]
        assert secret not in event.summary
        assert secret not in str(event.data)
        assert GatewayKey.hash_key(secret) not in str(event.data)

    @pytest.mark.parametrize(
        "status",
        ["draft", "submitted", "in_review", "changes_requested", "rejected", "retired"],
    )
    def test_a_use_case_not_approved_or_live_gets_409_and_no_key(
        self, api_client, alice, status
    ):
        use_case = UseCaseFactory(owner=alice, status=status)
        response = issue(api_client, alice, use_case)
        assert response.status_code == 409, response.content
        assert "approved or live" in response.json()["detail"]
        assert GatewayKey.objects.count() == 0
        assert not AuditEvent.objects.filter(kind="gateway.key_issued").exists()

    @pytest.mark.parametrize("role", ["board", "auditor", "procurement"])
    def test_other_roles_get_403_and_no_key(self, api_client, cast, approved, role):
        response = issue(api_client, cast[role], approved)
        assert response.status_code == 403, response.content
        assert GatewayKey.objects.count() == 0

    def test_a_team_mate_who_does_not_own_it_gets_403(
        self, api_client, claims, approved
    ):
        mate = UserFactory(username="mate", team=claims, role="requester")
        assert issue(api_client, mate, approved).status_code == 403
        assert GatewayKey.objects.count() == 0

    def test_another_team_gets_404_for_a_use_case_it_cannot_see(
        self, api_client, alice, carol
    ):
        secret = UseCaseFactory(
            owner=alice, status="approved", data_classification="confidential"
        )
        assert issue(api_client, carol, secret).status_code == 404
        assert GatewayKey.objects.count() == 0

    def test_another_team_gets_403_for_a_use_case_it_can_see(
        self, api_client, carol, approved
    ):
        assert issue(api_client, carol, approved).status_code == 403
        assert GatewayKey.objects.count() == 0

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"name": ""}, "name"),
            ({"name": "x" * 101}, "name"),
            ({"expires_at": "yesterday"}, "expires_at"),
            ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
            ({"requests_per_minute": 0}, "requests_per_minute"),
            ({"tokens_per_minute": -5}, "tokens_per_minute"),
            ({"tokens_per_minute": 10**12}, "tokens_per_minute"),
            ({"requests_per_minute": "many"}, "requests_per_minute"),
        ],
    )
    def test_bad_input_gets_400_with_field_errors_and_no_key(
        self, api_client, alice, approved, body, field
    ):
        response = issue(api_client, alice, approved, **body)
        assert response.status_code == 400, response.content
        assert field in response.json()
        assert GatewayKey.objects.count() == 0

    def test_a_read_only_token_cannot_issue(self, api_client, alice, approved):
        _, token = ApiToken.issue(user=alice, name="reader", scope="read")
        response = api_client.post(
            keys_url(approved),
            {"name": "x"},
            format="json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert response.status_code == 403
        assert GatewayKey.objects.count() == 0


class TestList:
    @pytest.fixture
    def issued(self, api_client, alice, approved):  # type: ignore[no-untyped-def]
        secret = issue(api_client, alice, approved).json()["key"]
        api_client.force_authenticate(None)
        return secret

    @pytest.mark.parametrize("role", ["requester", "platform", "board", "auditor"])
    def test_owner_platform_board_and_auditors_list_keys_without_secrets(
        self, api_client, cast, approved, issued, role
    ):
        api_client.force_authenticate(cast[role])
        response = api_client.get(keys_url(approved))
        assert response.status_code == 200, response.content
        [row] = response.json()["results"]
        assert row["prefix"] == issued[:12]
        assert "key" not in row and "key_hash" not in row
        assert issued not in response.content.decode()
        assert set(row) >= {
            "id",
            "name",
            "prefix",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "requests_per_minute",
            "tokens_per_minute",
            "created_by",
        }

    def test_procurement_may_not_list_keys(self, api_client, paul, approved, issued):
        api_client.force_authenticate(paul)
        assert api_client.get(keys_url(approved)).status_code == 403

    def test_another_team_may_not_list_keys(self, api_client, carol, approved, issued):
        api_client.force_authenticate(carol)
        assert api_client.get(keys_url(approved)).status_code == 403

    def test_the_list_takes_the_same_queries_for_one_key_or_many(
        self, api_client, alice, dave, approved, django_assert_num_queries
    ):
        issue(api_client, alice, approved)
        api_client.force_authenticate(alice)
        # The use-case, the count, the page (with issuer and revoker joined).
        with django_assert_num_queries(3):
            api_client.get(keys_url(approved))
        issue(api_client, dave, approved)
        issue(api_client, alice, approved)
        api_client.force_authenticate(alice)
        with django_assert_num_queries(3):
            response = api_client.get(keys_url(approved))
        assert response.json()["count"] == 3


class TestRevoke:
    def test_the_owner_revokes_a_key_and_the_gateway_no_longer_accepts_it(
        self, api_client, alice, approved
    ):
        body = issue(api_client, alice, approved).json()
        key = GatewayKey.objects.get(pk=body["id"])
        response = api_client.delete(key_url(key))
        assert response.status_code == 204
        key.refresh_from_db()
        assert key.revoked_at is not None and key.revoked_by == alice
        assert authenticate_key(body["key"]) is None
        event = AuditEvent.objects.get(kind="gateway.key_revoked")
        assert event.actor == alice and event.use_case == approved
        assert body["key"] not in str(event.data) + event.summary
        listed = api_client.get(keys_url(approved)).json()["results"][0]
        assert listed["revoked_at"] is not None and listed["active"] is False

    def test_revoking_twice_is_204_and_audited_once(self, api_client, dave, approved):
        key = GatewayKey.objects.get(pk=issue(api_client, dave, approved).json()["id"])
        assert api_client.delete(key_url(key)).status_code == 204
        assert api_client.delete(key_url(key)).status_code == 204
        assert AuditEvent.objects.filter(kind="gateway.key_revoked").count() == 1

    def test_a_key_of_a_retired_use_case_can_still_be_revoked(
        self, api_client, alice, approved
    ):
        key = GatewayKey.objects.get(pk=issue(api_client, alice, approved).json()["id"])
        approved.status = "retired"
        approved.save(update_fields=["status"])
        assert api_client.delete(key_url(key)).status_code == 204

    @pytest.mark.parametrize(
        "role", ["board", "auditor", "procurement", "other_requester"]
    )
    def test_others_may_not_revoke_and_the_key_stays_active(
        self, api_client, cast, alice, approved, role
    ):
        body = issue(api_client, alice, approved).json()
        key = GatewayKey.objects.get(pk=body["id"])
        api_client.force_authenticate(cast[role])
        assert api_client.delete(key_url(key)).status_code == 403
        key.refresh_from_db()
        assert key.revoked_at is None
        assert authenticate_key(body["key"]) == key

    def test_a_key_is_not_revoked_through_another_use_case(
        self, api_client, alice, approved
    ):
        other = UseCaseFactory(owner=alice, status="approved")
        key = GatewayKey.objects.get(pk=issue(api_client, alice, approved).json()["id"])
        url = f"/api/v1/use-cases/{other.pk}/gateway-keys/{key.pk}/"
        assert api_client.delete(url).status_code == 404
        key.refresh_from_db()
        assert key.revoked_at is None
