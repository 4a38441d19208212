"""Every API operation, for every role and token scope, driven by the schema.

Three rules hold for every operation the schema lists (so a new resource is
covered the day it is registered):

- anonymous callers get 401 (only ``ping/`` is open);
- a read-only token gets 403 on every write, whatever its user's role;
- a read-write token is never refused for its scope.

Role rules are a table: for each collection operation and each use-case route,
the roles that may use it. A role outside the set is refused (403, or 404 where
the object is one it may not even see); a role inside it is never refused. The
table must name every such operation, so a new one fails here until its rule is
written down.
"""

from __future__ import annotations

import re
from functools import cache

import pytest
from drf_spectacular.generators import SchemaGenerator

from apps.accounts.models import ApiToken
from tests.factories import UseCaseFactory

READ_ONLY_MESSAGE = "This API token is read-only."
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
OPEN = {("GET", "/api/v1/ping/")}
# POSTs that compute and save nothing, so a read-only token may call them.
SAFE_POSTS = {
    ("POST", "/api/v1/framework/evaluate/"),
    ("POST", "/api/v1/portfolio/plan/"),
}
MISSING = 999_999  # an id no object has: scope and authentication come first

ROLES = ["requester", "other_requester", "board", "platform", "procurement", "auditor"]
EVERYONE = frozenset(ROLES)
READERS = frozenset({"board", "platform", "procurement", "auditor"})
REQUESTERS = frozenset({"requester", "other_requester"})

# (method, path) → roles allowed. `{id}` on /use-cases/ is a draft owned by
# "requester" (alice, Claims): "other_requester" (carol, Health) may not see it.
UC = "/api/v1/use-cases/{id}/"
ROLE_RULES: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/api/v1/use-cases/"): EVERYONE,
    ("POST", "/api/v1/use-cases/"): REQUESTERS,
    ("GET", UC): EVERYONE - {"other_requester"},
    ("PUT", UC): frozenset({"requester"}),
    ("PATCH", UC): frozenset({"requester"}),
    ("POST", UC + "submit/"): frozenset({"requester"}),
    ("POST", UC + "transition/"): frozenset({"requester"}),
    ("GET", UC + "decision/"): EVERYONE - {"other_requester"},
    ("POST", UC + "decision/"): frozenset({"board"}),
    ("GET", UC + "timeline/"): EVERYONE - {"other_requester"},
    ("GET", "/api/v1/use-cases/{use_case_pk}/assessments/"): EVERYONE
    - {"other_requester"},
    # Keys: the owner and platform manage; the team, board and auditors list.
    ("GET", "/api/v1/use-cases/{use_case_pk}/gateway-keys/"): frozenset(
        {"requester", "board", "platform", "auditor"}
    ),
    ("POST", "/api/v1/use-cases/{use_case_pk}/gateway-keys/"): frozenset(
        {"requester", "platform"}
    ),
    ("DELETE", "/api/v1/use-cases/{use_case_pk}/gateway-keys/{id}/"): frozenset(
        {"requester", "platform"}
    ),
    ("POST", "/api/v1/framework/evaluate/"): EVERYONE,
    ("GET", "/api/v1/catalogue/models/"): READERS,
    ("GET", "/api/v1/catalogue/gpu-profiles/"): READERS,
    ("GET", "/api/v1/endpoints/"): EVERYONE,
    ("POST", "/api/v1/endpoints/"): frozenset({"platform"}),
    ("GET", "/api/v1/usage/"): EVERYONE,
    ("GET", "/api/v1/spend/"): EVERYONE,
    # Provider bills have no use-case, so requesters may not read them.
    ("GET", "/api/v1/spend/reconciliation/"): READERS,
    ("GET", "/api/v1/spend/focus/"): EVERYONE,
    ("GET", "/api/v1/portfolio/summary/"): EVERYONE,
    # The plan covers every team; the board keeps plans as evidence.
    ("POST", "/api/v1/portfolio/plan/"): READERS,
    ("GET", "/api/v1/portfolio/plans/"): READERS,
    ("POST", "/api/v1/portfolio/plans/"): frozenset({"board"}),
    ("GET", "/api/v1/playground/runs/"): EVERYONE,
    ("POST", "/api/v1/playground/runs/"): EVERYONE - {"procurement", "auditor"},
    ("GET", "/api/v1/playground/test-sets/"): EVERYONE,
    ("GET", "/api/v1/playground/test-set-runs/"): EVERYONE,
    ("GET", "/api/v1/ping/"): EVERYONE,
    # Everyone reads and marks their own inbox; platform manages the channels.
    ("GET", "/api/v1/notifications/"): EVERYONE,
    ("POST", "/api/v1/notifications/read-all/"): EVERYONE,
    ("GET", "/api/v1/notifications/subscriptions/"): frozenset({"platform"}),
    ("POST", "/api/v1/notifications/subscriptions/"): frozenset({"platform"}),
    ("GET", "/api/v1/notifications/deliveries/"): frozenset({"platform"}),
    # Risk and approvals: the owner answers; stage approvers are per stage (the
    # default policy names board, platform and procurement); the condition's
    # owner or the board resolves; anyone who sees it reports, bar auditors.
    ("GET", UC + "risk-assessment/"): EVERYONE - {"other_requester"},
    ("POST", UC + "risk-assessment/"): frozenset({"requester"}),
    ("GET", UC + "stages/"): EVERYONE - {"other_requester"},
    ("POST", UC + "stages/{stage_id}/decide/"): frozenset(
        {"board", "platform", "procurement"}
    ),
    ("GET", UC + "conditions/"): EVERYONE - {"other_requester"},
    ("POST", UC + "conditions/{condition_id}/resolve/"): frozenset(
        {"requester", "board"}
    ),
    ("GET", UC + "incidents/"): EVERYONE - {"other_requester"},
    ("POST", UC + "incidents/"): EVERYONE - {"other_requester", "auditor"},
    ("POST", UC + "incidents/{incident_id}/actions/"): frozenset(
        {"requester", "board"}
    ),
    ("GET", "/api/v1/risk/register/"): EVERYONE,
    # Model lifecycle: rows are filtered by use-case; the starters propose.
    ("GET", "/api/v1/lifecycle/deprecations/"): EVERYONE,
    ("GET", "/api/v1/lifecycle/conformance-flags/"): EVERYONE,
    ("GET", "/api/v1/lifecycle/comparisons/"): EVERYONE,
    ("POST", "/api/v1/lifecycle/comparisons/"): EVERYONE - {"procurement", "auditor"},
}
# Bodies that pass validation, so the answer is about the role, not the input.
BODIES: dict[tuple[str, str], dict] = {
    ("POST", UC + "transition/"): {"to_status": "submitted"},
    ("POST", UC + "decision/"): {"outcome": "approved"},
    ("POST", "/api/v1/use-cases/{use_case_pk}/gateway-keys/"): {"name": "matrix"},
    ("GET", "/api/v1/spend/"): {"group_by": "vendor", "period": "month"},
    ("POST", UC + "risk-assessment/"): {
        "charter_likelihood": "occasional",
        "charter_impact": "low",
    },
    ("POST", UC + "incidents/"): {
        "kind": "outage",
        "severity": "low",
        "title": "Matrix",
        "description": "Checking who may report.",
    },
    ("POST", "/api/v1/portfolio/plans/"): {"name": "matrix"},
}


@cache
def operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method.upper(), path)
        for path, items in schema["paths"].items()
        for method in items
    )


def needs_a_role_rule(method: str, path: str) -> bool:
    """Collection operations, and every route of one use-case."""
    return "{id}" not in path or path.startswith("/api/v1/use-cases/{id}/")


def fill(path: str, **ids: int) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), MISSING)), path)


def call(client, method: str, url: str, data=None, **headers):  # type: ignore[no-untyped-def]
    if method == "GET":
        return client.get(url, data or {}, **headers)
    return getattr(client, method.lower())(url, data or {}, format="json", **headers)


def token_headers(user, scope: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    _, key = ApiToken.issue(user=user, name=f"matrix-{scope}", scope=scope)
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def test_the_schema_lists_the_resources_of_design_section_7():
    paths = {path for _, path in operations()}
    for path in [
        "/api/v1/use-cases/",
        "/api/v1/use-cases/{id}/decision/",
        "/api/v1/use-cases/{use_case_pk}/assessments/",
        "/api/v1/framework/evaluate/",
        "/api/v1/catalogue/models/",
        "/api/v1/endpoints/",
        "/api/v1/usage/",
        "/api/v1/spend/",
        "/api/v1/portfolio/summary/",
    ]:
        assert path in paths


def test_every_collection_and_use_case_operation_has_a_role_rule():
    missing = [
        op for op in operations() if needs_a_role_rule(*op) and op not in ROLE_RULES
    ]
    assert missing == []
    stale = [op for op in ROLE_RULES if op not in operations()]
    assert stale == []


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), operations())
def test_anonymous_callers_get_401(api_client, method, path):
    response = call(api_client, method, fill(path))
    if (method, path) in OPEN:
        assert response.status_code == 200
    else:
        assert response.status_code == 401, response.content
        assert response.json()["code"] == "not_authenticated"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"), [op for op in operations() if op[0] in WRITE_METHODS]
)
def test_a_read_only_token_cannot_write(api_client, cast, root, method, path):
    for user in [*cast.values(), root]:
        response = call(api_client, method, fill(path), **token_headers(user, "read"))
        if (method, path) in SAFE_POSTS:
            # Refused, if at all, for the role (see the role rules), never the scope.
            refused_for_scope = (
                response.status_code == 403
                and response.json()["detail"] == READ_ONLY_MESSAGE
            )
            assert not refused_for_scope, (user.username, response.content)
        else:
            assert response.status_code == 403, (user.username, response.content)
            assert response.json()["detail"] == READ_ONLY_MESSAGE


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"), [op for op in operations() if op[0] in WRITE_METHODS]
)
def test_a_read_write_token_is_not_refused_for_its_scope(
    api_client, cast, root, method, path
):
    for user in [*cast.values(), root]:
        response = call(api_client, method, fill(path), **token_headers(user, "write"))
        assert response.status_code != 401
        if response.status_code == 403:
            assert response.json()["detail"] != READ_ONLY_MESSAGE


# Known departures, reported to the resource's owner; strict, so a fix shows up.
KNOWN_ISSUES: dict[tuple[str, str], tuple[frozenset[str], str]] = {}


def role_cases():  # type: ignore[no-untyped-def]
    for method, path in sorted(ROLE_RULES):
        for role in ROLES:
            roles, reason = KNOWN_ISSUES.get((method, path), (frozenset(), ""))
            marks = (
                [pytest.mark.xfail(strict=True, reason=reason)] if role in roles else []
            )
            yield pytest.param(method, path, role, marks=marks)


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "role"), list(role_cases()))
def test_role_rules(api_client, cast, role, method, path):
    alice = cast["requester"]
    use_case = UseCaseFactory(owner=alice)  # a draft of the Claims team
    ids = {"id": use_case.pk, "use_case_pk": use_case.pk}
    url = fill(path, **ids)
    body = BODIES.get((method, path))
    if method == "PUT":  # the whole object, as its owner reads it
        api_client.force_authenticate(alice)
        body = api_client.get(fill(UC, **ids)).json()
    api_client.force_authenticate(cast[role])
    response = call(api_client, method, url, body)
    assert response.status_code < 500, response.content
    if role in ROLE_RULES[(method, path)]:
        assert response.status_code not in {401, 403}, response.content
    else:
        refused = {403, 404} if "{" in path else {403}
        assert response.status_code in refused, response.content


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), sorted(ROLE_RULES))
def test_a_superuser_is_never_refused(api_client, root, alice, method, path):
    use_case = UseCaseFactory(owner=alice)
    api_client.force_authenticate(root)
    body = BODIES.get((method, path))
    if method == "PUT":
        body = api_client.get(fill(UC, id=use_case.pk)).json()
    response = call(
        api_client, method, fill(path, id=use_case.pk, use_case_pk=use_case.pk), body
    )
    assert response.status_code < 500 and response.status_code not in {401, 403}


@pytest.mark.django_db
class TestTokenLifecycle:
    def test_an_expired_token_is_refused_everywhere(self, api_client, bob):
        _, key = ApiToken.issue(user=bob, name="lapsed", scope="write", days=-1)
        for method, path in operations():
            response = call(
                api_client, method, fill(path), HTTP_AUTHORIZATION=f"Bearer {key}"
            )
            assert response.status_code == 401, (method, path)

    def test_a_revoked_token_is_refused_everywhere(self, api_client, bob):
        token, key = ApiToken.issue(user=bob, name="gone", scope="write")
        token.revoke()
        for method, path in operations():
            response = call(
                api_client, method, fill(path), HTTP_AUTHORIZATION=f"Bearer {key}"
            )
            assert response.status_code == 401, (method, path)

    def test_a_deactivated_users_token_is_refused(self, api_client, bob):
        _, key = ApiToken.issue(user=bob, name="leaver")
        bob.is_active = False
        bob.save()
        response = api_client.get(
            "/api/v1/use-cases/", HTTP_AUTHORIZATION=f"Bearer {key}"
        )
        assert response.status_code == 401
