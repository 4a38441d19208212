"""The fixed cast of users every test can call by name.

alice: requester in Claims · carol: requester in Health · bob: board · dave: platform ·
paul: procurement · erin: auditor · root: superuser.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, time

import pytest
import time_machine
from hypothesis import settings as hypothesis_settings

from tests import factories

# Property tests try the same examples on every run, so what CI covers does not
# vary from run to run; `HYPOTHESIS_PROFILE=explore` searches afresh (locally).
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
hypothesis_settings.register_profile("explore", derandomize=False)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _fast_passwords(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _ledger_spool(settings, tmp_path):  # type: ignore[no-untyped-def]
    """Each test's own spool for the ledger's writer (gateway, playground, test
    sets), flushed when a test says so: never the machine's var folder, and no
    background flusher writing into another test's database."""
    from apps.endpoints.services import metering

    settings.GATEWAY_SPOOL_DIR = str(tmp_path / "ledger-spool")
    settings.GATEWAY_FLUSH_INTERVAL = 3600
    metering.reset()
    yield
    metering.reset()


@pytest.fixture
def claims(db):  # type: ignore[no-untyped-def]
    return factories.TeamFactory(name="Claims", slug="claims")


@pytest.fixture
def health(db):  # type: ignore[no-untyped-def]
    return factories.TeamFactory(name="Health", slug="health")


@pytest.fixture
def alice(claims):  # type: ignore[no-untyped-def]
    return factories.UserFactory(username="alice", team=claims, role="requester")


@pytest.fixture
def carol(health):  # type: ignore[no-untyped-def]
    return factories.UserFactory(username="carol", team=health, role="requester")


@pytest.fixture
def bob(db):  # type: ignore[no-untyped-def]
    return factories.UserFactory(username="bob", role="board")


@pytest.fixture
def dave(db):  # type: ignore[no-untyped-def]
    return factories.UserFactory(username="dave", role="platform")


@pytest.fixture
def paul(db):  # type: ignore[no-untyped-def]
    return factories.UserFactory(username="paul", role="procurement")


@pytest.fixture
def erin(db):  # type: ignore[no-untyped-def]
    return factories.UserFactory(username="erin", role="auditor")


@pytest.fixture
def root(db):  # type: ignore[no-untyped-def]
    return factories.UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def cast(alice, carol, bob, dave, paul, erin):  # type: ignore[no-untyped-def]
    return {
        "requester": alice,
        "other_requester": carol,
        "board": bob,
        "platform": dave,
        "procurement": paul,
        "auditor": erin,
    }


@pytest.fixture
def api_client():  # type: ignore[no-untyped-def]
    from rest_framework.test import APIClient

    return APIClient()


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium():  # type: ignore[no-untyped-def]
    """Debian's Chromium driven by Playwright (no browser download).

    Module-scoped: Playwright's sync API keeps an event loop running while it is
    open, which would break `asyncio.run()` in the tests that follow.
    """
    import os

    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; the ORM must still be usable.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def browser_page(chromium, live_server):  # type: ignore[no-untyped-def]
    """A fresh page; `browser_page.login(username)` signs in through the real form."""
    # Playwright's wait_for_function evaluates its predicate with eval, which the
    # portal's CSP refuses; tests/core/test_csp_browser.py runs with it enforced.
    context = chromium.new_context(base_url=live_server.url, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()

    def login(username: str, password: str = "pw") -> None:
        page.goto("/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")

    page.login = login
    yield page
    context.close()


@pytest.fixture
def midday() -> Iterator[datetime]:
    """Noon UTC today, the clock still running: no test straddles midnight.

    Tests that compute "today" and then call code that computes it again would
    disagree for a moment at midnight; this keeps them twelve hours away.
    """
    noon = datetime.combine(datetime.now(UTC).date(), time(12), tzinfo=UTC)
    with time_machine.travel(noon, tick=True):
        yield noon
