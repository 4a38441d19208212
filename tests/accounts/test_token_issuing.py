"""Who may issue a token acting as whom: a token acts only for the person issuing it.

Issue 13, finding 1: platform could issue a read-only token acting as the auditor
and read the board's internal notes through it, which its own token cannot.
"""

from __future__ import annotations

import pytest

from apps.accounts.models import ApiToken
from apps.accounts.services import TokenRefused, issue_api_token
from apps.reviews.models import Comment
from tests.factories import UseCaseFactory

pytestmark = pytest.mark.django_db

LIST = "/tokens/"
NEW = "/tokens/new/"
NOTE = "Board-only: the vendor's pricing is under negotiation."


def issue(client, user, **overrides):  # type: ignore[no-untyped-def]
    data = {"name": "sync", "user": user.pk, "scope": "read", "days": 30}
    data.update(overrides)
    return client.post(NEW, data)


def bearer(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.fixture
def internal_note(alice, bob):  # type: ignore[no-untyped-def]
    use_case = UseCaseFactory(owner=alice, status="in_review")
    Comment.objects.create(use_case=use_case, author=bob, body=NOTE, internal=True)
    return use_case


def test_platform_cannot_issue_a_token_acting_as_the_auditor(
    client, api_client, dave, erin, internal_note
):
    """The probe's path to the board's internal notes is closed at the page."""
    timeline = f"/api/v1/use-cases/{internal_note.pk}/timeline/"
    client.force_login(dave)

    response = issue(client, erin, scope="read")

    assert response.status_code == 200
    assert "user" in response.context["form"].errors
    assert not ApiToken.objects.filter(user=erin).exists()
    # Platform's own token, the only kind it can mint, does not read the note.
    own_key = issue(client, dave).context["key"]
    own = api_client.get(timeline, **bearer(own_key))
    assert own.status_code == 200 and NOTE not in own.content.decode()
    assert ApiToken.objects.count() == 1


@pytest.mark.parametrize("subject", ["paul", "erin", "bob", "alice"])
def test_platform_cannot_issue_a_token_for_anyone_else_whatever_the_scope(
    client, request, dave, subject
):
    other = request.getfixturevalue(subject)
    client.force_login(dave)
    for scope in ("read", "write"):
        response = issue(client, other, scope=scope)
        assert response.status_code == 200
        assert "user" in response.context["form"].errors
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    ("issuer", "subject"),
    [("dave", "erin"), ("dave", "paul"), ("paul", "erin"), ("erin", "paul")],
)
def test_the_service_refuses_a_token_for_someone_else(request, issuer, subject):
    """The rule holds below the form too: every interface issues through it."""
    by = request.getfixturevalue(issuer)
    user = request.getfixturevalue(subject)

    with pytest.raises(TokenRefused, match="only for the person who issues it"):
        issue_api_token(user=user, name="sync", scope="read", days=30, by=by)

    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("role", ["procurement", "auditor"])
def test_readers_issue_their_own_read_only_token_and_read_with_it(
    client, api_client, cast, role
):
    user = cast[role]
    client.force_login(user)

    response = issue(client, user)

    assert response.status_code == 200
    token = ApiToken.objects.get()
    assert (token.user, token.issued_by, token.scope) == (user, user, "read")
    headers = bearer(response.context["key"])
    assert api_client.get("/api/v1/use-cases/", **headers).status_code == 200
    refused = api_client.post("/api/v1/use-cases/", {}, format="json", **headers)
    assert refused.status_code == 403


def test_the_auditors_own_token_reads_the_internal_notes(
    client, api_client, erin, internal_note
):
    """What the auditor reads, the auditor's own token reads: nothing is lost."""
    client.force_login(erin)
    key = issue(client, erin).context["key"]

    response = api_client.get(
        f"/api/v1/use-cases/{internal_note.pk}/timeline/", **bearer(key)
    )

    assert response.status_code == 200 and NOTE in response.content.decode()


@pytest.mark.parametrize("role", ["procurement", "auditor"])
def test_readers_cannot_give_their_own_token_write_scope(client, cast, role):
    """An account that changes nothing gets read-only tokens only."""
    client.force_login(cast[role])

    response = issue(client, cast[role], scope="write")

    assert response.status_code == 200
    assert "scope" in response.context["form"].errors
    assert not ApiToken.objects.exists()
    with pytest.raises(TokenRefused):
        issue_api_token(
            user=cast[role], name="sync", scope="write", days=30, by=cast[role]
        )
    assert not ApiToken.objects.exists()


def test_procurement_sees_and_revokes_only_its_own_tokens(client, paul, dave):
    own, _ = ApiToken.issue(user=paul, name="finance-bi")
    platforms, _ = ApiToken.issue(user=dave, name="catalogue-sync")
    client.force_login(paul)

    page = client.get(LIST).content.decode()
    assert "finance-bi" in page and "catalogue-sync" not in page
    assert client.post(f"/tokens/{platforms.pk}/revoke/").status_code == 404
    assert client.post(f"/tokens/{own.pk}/revoke/").status_code == 302

    own.refresh_from_db()
    platforms.refresh_from_db()
    assert own.revoked_at is not None and own.revoked_by == paul
    assert platforms.revoked_at is None


def test_procurement_sees_the_nav_link(client, paul):
    client.force_login(paul)
    assert b'href="/tokens/"' in client.get("/use-cases/").content


def test_the_command_line_still_issues_any_accounts_token(erin):
    """An operator at the shell is not a role: the service takes ``by=None``."""
    token, _ = issue_api_token(
        user=erin, name="audit-export", scope="read", days=7, by=None
    )
    assert token.user == erin and token.issued_by is None
