"""schemathesis against the real app, in-process: no 5xx, every response as documented.

Bounded and deterministic: the coverage phase's boundary cases and 25 generated
examples per operation (derandomized), each sent
with a superuser's and a requester's read-write token, over the demo data.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections, transaction
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from schemathesis import checks

from apps.accounts.models import ApiToken, User
from portal.wsgi import application

pytestmark = pytest.mark.fuzz

EXAMPLES_PER_OPERATION = 25

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture(scope="module")
def demo_callers(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    """The demo data, seeded once for the module and rolled back after it."""
    with django_db_blocker.unblock(), transaction.atomic():
        # seed_demo refuses to run without DEBUG (it creates known passwords).
        with override_settings(DEBUG=True):
            call_command("seed_demo", verbosity=0)
        root = User.objects.create_superuser("fuzz-root", "root@example.com", "x")
        requester = User.objects.get(username="requester")
        yield {
            name: ApiToken.issue(user=user, name="fuzz", scope="write", days=1)[1]
            for name, user in {"superuser": root, "requester": requester}.items()
        }
        transaction.set_rollback(True)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():  # type: ignore[no-untyped-def]
    """As Django's test client does: the in-process WSGI app must not close the
    connection that holds the test transaction (PostgreSQL would lose it)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def callers(db, demo_callers, settings) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Write tokens for a superuser and a requester, with room for the whole run."""
    # The budget is per token; a fuzz run is hundreds of calls in a second.
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "per_token": "100000/minute",
        },
    }
    return demo_callers


# Loaded when the module is imported (schemathesis' lazy fixture loader does not
# work with pytest 9); generating the schema needs no database, and reading it
# from the generator, not from /api/schema/, needs no signed-in user.
schema = schemathesis.openapi.from_dict(
    json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))
)
schema.app = application
# The coverage phase sends each operation's boundary cases (missing, empty, too
# long, wrong type) before the fuzzing phase's `EXAMPLES_PER_OPERATION`.
schema.config.phases.coverage.enabled = True


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_matches_its_schema_and_never_fails(case, callers):  # type: ignore[no-untyped-def]
    for key in callers.values():
        case.call_and_validate(
            headers={"Authorization": f"Bearer {key}"}, checks=CHECKS
        )
