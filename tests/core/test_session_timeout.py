"""A session is signed out after SESSION_IDLE_TIMEOUT_SECONDS without a request, and
SESSION_COOKIE_AGE after sign-in however active it is."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.core import middleware

HOUR = 3600


@pytest.fixture
def clock(monkeypatch):  # type: ignore[no-untyped-def]
    class Clock:
        now = 1_700_000_000.0

        def travel(self, seconds: float) -> None:
            self.now += seconds

    fake = Clock()
    monkeypatch.setattr(middleware, "_now", lambda: fake.now)
    return fake


def page(client):  # type: ignore[no-untyped-def]
    return client.get(reverse("usecases:list"))


def test_an_idle_session_is_signed_out_after_eight_hours(client, alice, clock):
    client.force_login(alice)
    assert page(client).status_code == 200
    clock.travel(8 * HOUR + 1)
    response = page(client)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert "_auth_user_id" not in client.session
    clock.travel(1)  # and it stays signed out
    assert page(client).status_code == 302


def test_a_session_in_use_outlives_the_idle_period(client, alice, clock):
    client.force_login(alice)
    for _ in range(6):  # 30 hours in all, never 8 idle
        assert page(client).status_code == 200
        clock.travel(5 * HOUR)
    assert page(client).status_code == 200


def test_the_idle_period_is_a_setting(client, alice, clock, settings):
    settings.SESSION_IDLE_TIMEOUT_SECONDS = 15 * 60
    client.force_login(alice)
    assert page(client).status_code == 200
    clock.travel(14 * 60)
    assert page(client).status_code == 200
    clock.travel(15 * 60 + 1)
    assert page(client).status_code == 302


def test_a_session_ends_fourteen_days_after_sign_in_however_active(
    client, alice, clock
):
    client.force_login(alice)
    for _ in range(14 * 3):  # every 8 hours less a minute, for 14 days
        assert page(client).status_code == 200
        clock.travel(8 * HOUR - 60)
    clock.travel(2 * HOUR)
    assert page(client).status_code == 302


def test_an_idle_session_no_longer_authenticates_the_api(client, alice, clock):
    client.force_login(alice)
    assert client.get("/api/v1/use-cases/").status_code == 200
    clock.travel(8 * HOUR + 1)
    assert client.get("/api/v1/use-cases/").status_code in (401, 403)
