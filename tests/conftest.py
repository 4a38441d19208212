"""The fixed cast of users every test can call by name.

alice: requester in Claims · carol: requester in Health · bob: board · dave: platform ·
paul: procurement · erin: auditor · root: superuser.
"""

from __future__ import annotations

import pytest

from tests import factories


@pytest.fixture(autouse=True)
def _fast_passwords(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
