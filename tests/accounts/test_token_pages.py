"""The API token pages: platform issues its own tokens and revokes any, auditors look."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import ApiToken

LIST = "/tokens/"
NEW = "/tokens/new/"


def issue(client, user, **overrides):  # type: ignore[no-untyped-def]
    data = {"name": "procurement-sync", "user": user.pk, "scope": "read", "days": 30}
    data.update(overrides)
    return client.post(NEW, data)


@pytest.mark.django_db
class TestTokenPages:
    def test_platform_issues_a_token_and_sees_the_secret_once(self, client, dave):
        client.force_login(dave)
        response = issue(client, dave, scope="write")
        assert response.status_code == 200
        token = ApiToken.objects.get()
        key = response.context["key"]
        assert key.encode() in response.content
        assert token.key_hash == ApiToken.hash_key(key)
        assert token.user == dave and token.scope == "write"
        assert token.issued_by == dave
        assert token.name == "procurement-sync"
        assert (
            timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
        )
        assert "no-store" in response["Cache-Control"]
        listing = client.get(LIST)
        assert listing.status_code == 200
        assert key.encode() not in listing.content
        assert token.key_prefix.encode() in listing.content

    @pytest.mark.parametrize("subject", ["bob", "alice"])
    def test_platform_cannot_mint_a_token_with_someone_elses_write_powers(
        self, client, dave, bob, alice, subject
    ):
        """A token acts for its issuer or a read-only account, never a board member
        or a requester, so platform cannot borrow their powers."""
        client.force_login(dave)
        response = issue(client, {"bob": bob, "alice": alice}[subject], scope="write")
        assert response.status_code == 200
        assert "user" in response.context["form"].errors
        assert not ApiToken.objects.exists()

    def test_platform_issues_a_token_for_itself(self, client, dave):
        client.force_login(dave)
        issue(client, dave, scope="write")
        assert ApiToken.objects.get().user == dave

    def test_the_issued_token_works_with_its_scope(self, client, api_client, dave):
        client.force_login(dave)
        key = issue(client, dave).context["key"]
        headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
        assert api_client.get("/api/v1/use-cases/", **headers).status_code == 200
        assert api_client.post("/api/v1/use-cases/", {}, **headers).status_code == 403

    def test_the_list_shows_last_use_and_status(self, client, dave, paul, api_client):
        used, key = ApiToken.issue(user=paul, name="finance-bi")
        api_client.get("/api/v1/use-cases/", HTTP_AUTHORIZATION=f"Bearer {key}")
        revoked, _ = ApiToken.issue(user=paul, name="old-sync")
        revoked.revoke()
        ApiToken.issue(user=paul, name="lapsed", days=-1)
        client.force_login(dave)
        page = client.get(LIST).content.decode()
        assert "finance-bi" in page and "never" in page  # lapsed/old never used
        assert "revoked" in page and "expired" in page and "active" in page
        used.refresh_from_db()
        assert used.last_used_at is not None

    def test_platform_revokes_a_token_and_it_stops_working(
        self, client, api_client, dave, paul
    ):
        token, key = ApiToken.issue(user=paul, name="sync")
        client.force_login(dave)
        response = client.post(f"/tokens/{token.pk}/revoke/")
        assert response.status_code == 302
        token.refresh_from_db()
        assert token.revoked_at is not None
        refused = api_client.get(
            "/api/v1/use-cases/", HTTP_AUTHORIZATION=f"Bearer {key}"
        )
        assert refused.status_code == 401

    def test_revoking_needs_a_post(self, client, dave, paul):
        token, _ = ApiToken.issue(user=paul, name="sync")
        client.force_login(dave)
        assert client.get(f"/tokens/{token.pk}/revoke/").status_code == 405
        token.refresh_from_db()
        assert token.revoked_at is None

    def test_superusers_cannot_be_chosen_on_the_page(self, client, dave, root):
        client.force_login(dave)
        response = issue(client, root)
        assert response.status_code == 200
        assert "user" in response.context["form"].errors
        assert not ApiToken.objects.exists()

    def test_an_expiry_is_required_and_bounded(self, client, dave, paul):
        client.force_login(dave)
        response = issue(client, paul, days=10_000)
        assert "days" in response.context["form"].errors
        assert not ApiToken.objects.exists()

    def test_auditors_see_the_list_but_cannot_issue_or_revoke_others_tokens(
        self, client, erin, paul
    ):
        token, _ = ApiToken.issue(user=paul, name="sync")
        client.force_login(erin)
        page = client.get(LIST)
        assert page.status_code == 200 and b"sync" in page.content
        assert b"Revoke" not in page.content
        assert "user" in issue(client, paul).context["form"].errors
        assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 403
        token.refresh_from_db()
        assert token.revoked_at is None and ApiToken.objects.count() == 1

    @pytest.mark.parametrize("role", ["requester", "board"])
    def test_other_roles_are_refused(self, client, cast, role, paul):
        client.force_login(cast[role])
        assert client.get(LIST).status_code == 403
        assert issue(client, paul).status_code == 403

    def test_anonymous_users_are_sent_to_sign_in(self, client):
        response = client.get(LIST)
        assert (
            response.status_code == 302 and "/accounts/login/" in response["Location"]
        )

    def test_platform_sees_the_nav_link(self, client, dave, alice):
        client.force_login(dave)
        assert b'href="/tokens/"' in client.get("/use-cases/").content
        client.force_login(alice)
        assert b'href="/tokens/"' not in client.get("/use-cases/").content
