"""Password sign-ins are throttled per account and per address, and lockouts expire."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

from apps.accounts import throttle
from apps.accounts.models import User
from apps.usecases.models import AuditEvent

LOCKED_MESSAGE = "Too many failed sign-ins"


@pytest.fixture(autouse=True)
def _limits(settings):  # type: ignore[no-untyped-def]
    settings.SIGN_IN_FAILURE_LIMIT = 5
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 30
    settings.SIGN_IN_LOCKOUT_SECONDS = 900
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock(monkeypatch):  # type: ignore[no-untyped-def]
    """The throttle's clock, moved by hand: `clock.travel(seconds)`."""

    class Clock:
        now = 1_700_000_000.0

        def travel(self, seconds: float) -> None:
            self.now += seconds

    fake = Clock()
    monkeypatch.setattr(throttle, "_now", lambda: fake.now)
    return fake


def sign_in(client, username, password, address="10.0.0.1", url=None):  # type: ignore[no-untyped-def]
    return client.post(
        url or reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=address,
    )


def signed_in(client) -> bool:  # type: ignore[no-untyped-def]
    return "_auth_user_id" in client.session


def test_it_refuses_the_right_password_after_thirty_wrong_ones(client, alice, clock):
    for _ in range(30):
        sign_in(client, "alice", "wrong")
    response = sign_in(client, "alice", "pw")
    assert response.status_code == 429
    assert LOCKED_MESSAGE in response.content.decode()
    assert "for this account" in response.content.decode()
    assert not signed_in(client)
    alice.refresh_from_db()
    assert alice.last_login is None
    # One event for the lockout, not one per refused attempt.
    event = AuditEvent.objects.get(kind="accounts.sign_in_locked")
    assert event.actor == alice
    assert event.data["username"] == "alice"
    assert event.data["scope"] == "account"
    assert event.data["address"] == "10.0.0.1"


def test_the_fifth_wrong_password_locks_the_account_and_says_so(client, alice, clock):
    for _ in range(4):
        response = sign_in(client, "alice", "wrong")
        assert response.status_code == 200
        assert LOCKED_MESSAGE not in response.content.decode()
    response = sign_in(client, "alice", "wrong")
    assert response.status_code == 429
    assert "paused for 15 minutes" in response.content.decode()


def test_the_lockout_of_the_superuser_expires_after_the_cool_off(client, root, clock):
    for _ in range(5):
        sign_in(client, "root", "wrong")
    clock.travel(600)
    for _ in range(20):  # attempts during the lockout do not extend it
        sign_in(client, "root", "wrong")
    assert sign_in(client, "root", "pw").status_code == 429
    assert not signed_in(client)
    clock.travel(301)  # 901 seconds after the lockout began
    response = sign_in(client, "root", "pw")
    assert response.status_code == 302
    assert signed_in(client)


def test_an_account_lockout_holds_from_every_address(client, alice, carol, clock):
    for _ in range(5):
        sign_in(client, "alice", "wrong", address="10.0.0.1")
    response = sign_in(client, "alice", "pw", address="192.0.2.7")
    assert response.status_code == 429
    assert not signed_in(client)
    # The address itself is under its own limit: someone else signs in from it.
    assert sign_in(client, "carol", "pw", address="10.0.0.1").status_code == 302


def test_an_address_is_locked_after_failures_across_accounts(
    client, alice, settings, clock
):
    settings.SIGN_IN_ADDRESS_FAILURE_LIMIT = 4
    for name in ("ann", "ben", "cat", "dan"):  # unknown accounts count the same
        sign_in(client, name, "guess", address="203.0.113.9")
    response = sign_in(client, "alice", "pw", address="203.0.113.9")
    assert response.status_code == 429
    assert "from your network address" in response.content.decode()
    assert not signed_in(client)
    event = AuditEvent.objects.get(kind="accounts.sign_in_locked")
    assert (event.data["scope"], event.data["address"]) == ("address", "203.0.113.9")
    assert sign_in(client, "alice", "pw", address="203.0.113.10").status_code == 302


def test_a_successful_sign_in_starts_the_account_count_again(client, alice, clock):
    for _ in range(4):
        sign_in(client, "alice", "wrong")
    assert sign_in(client, "alice", "pw").status_code == 302
    client.logout()
    for _ in range(4):
        sign_in(client, "alice", "wrong")
    assert sign_in(client, "alice", "pw").status_code == 302


def test_the_admin_sign_in_is_throttled_too(client, root, clock):
    admin_login = reverse("admin:login")
    for _ in range(5):
        sign_in(client, "root", "wrong", url=admin_login)
    response = sign_in(client, "root", "pw", url=admin_login)
    assert response.status_code == 200  # the admin's form, refusing
    assert not signed_in(client)
    assert sign_in(client, "root", "pw").status_code == 429


def test_unlock_sign_in_lifts_a_lockout_early(client, root, clock):
    for _ in range(5):
        sign_in(client, "root", "wrong")
    call_command("unlock_sign_in", "root")
    assert sign_in(client, "root", "pw").status_code == 302
    assert User.objects.get(username="root").last_login is not None
