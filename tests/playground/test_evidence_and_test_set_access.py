"""Attaching evidence needs the right to edit or review the use-case; test sets are
kept to their team, as runs are.

Issue 13, findings 5 and 6: anyone who could see a use-case attached their own run
to it (a run from Health appeared on Claims' use-case), and the test sets of public
and internal use-cases (system prompt, inputs, runs) were readable by other teams.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.playground.models import TestSetRun
from apps.usecases.models import AuditEvent
from tests.factories import (
    PlaygroundRunFactory,
    TestInputFactory,
    TestSetFactory,
    UseCaseFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/playground/runs/"
TEST_SETS = "/api/v1/playground/test-sets/"
TEST_SET_RUNS = "/api/v1/playground/test-set-runs/"
SYSTEM_PROMPT = "You route Claims' motor claims; the fraud markers are: …"


@pytest.fixture
def claims_case(alice):  # type: ignore[no-untyped-def]
    """Alice's internal use-case under review: every requester can see it."""
    return UseCaseFactory(
        owner=alice, data_classification="internal", status="in_review"
    )


@pytest.fixture
def teammate(claims):  # type: ignore[no-untyped-def]
    return UserFactory(username="tama", team=claims, role="requester")


def nothing_attached(run, use_case) -> bool:  # type: ignore[no-untyped-def]
    run.refresh_from_db()
    return (
        run.use_case_id is None
        and run.attached_by_id is None
        and not use_case.playground_runs.exists()
        and not AuditEvent.objects.filter(kind="playground.attached").exists()
    )


# Finding 5: attaching evidence.


@pytest.mark.parametrize("who", ["carol", "teammate", "dave"])
def test_seeing_a_use_case_is_not_enough_to_attach_evidence_through_the_api(
    api_client, request, claims_case, who
):
    """Another team's requester, a team mate who is not the owner, and platform
    (which reads every use-case) may not add evidence to it."""
    user = request.getfixturevalue(who)
    run = PlaygroundRunFactory(owner=user)
    api_client.force_authenticate(user)
    assert api_client.get(f"/api/v1/use-cases/{claims_case.pk}/").status_code == 200

    response = api_client.post(
        f"{RUNS}{run.pk}/attach/", {"use_case": claims_case.pk}, format="json"
    )

    assert response.status_code == 403
    assert "owner or the board" in response.json()["detail"]
    assert nothing_attached(run, claims_case)


@pytest.mark.parametrize("who", ["carol", "teammate", "dave"])
def test_seeing_a_use_case_is_not_enough_to_attach_evidence_on_the_page(
    client, request, claims_case, who
):
    user = request.getfixturevalue(who)
    run = PlaygroundRunFactory(owner=user)
    client.force_login(user)
    form_page = client.get(run.get_absolute_url()).content.decode()
    assert f'value="{claims_case.pk}"' not in form_page  # not offered

    response = client.post(
        reverse("playground:run_attach", args=[run.pk]),
        {"use_case": claims_case.pk},
        follow=True,
    )

    shown = [str(m) for m in response.context["messages"]]
    assert shown == ["Choose a use-case you own (or, on the board, review)."]
    assert nothing_attached(run, claims_case)


def test_the_board_attaches_its_own_run_to_a_use_case_it_reviews(
    api_client, bob, claims_case
):
    run = PlaygroundRunFactory(owner=bob)
    api_client.force_authenticate(bob)

    response = api_client.post(
        f"{RUNS}{run.pk}/attach/", {"use_case": claims_case.pk}, format="json"
    )

    assert response.status_code == 200
    run.refresh_from_db()
    assert run.use_case == claims_case and run.attached_by == bob


def test_the_owner_attaches_on_the_page(client, alice, claims_case):
    run = PlaygroundRunFactory(owner=alice)
    client.force_login(alice)

    client.post(
        reverse("playground:run_attach", args=[run.pk]), {"use_case": claims_case.pk}
    )

    run.refresh_from_db()
    assert run.use_case == claims_case


# Finding 6: test sets.


@pytest.fixture
def claims_test_set(alice, claims_case):  # type: ignore[no-untyped-def]
    test_set = TestSetFactory(
        use_case=claims_case,
        name="Fraud routing",
        system_prompt=SYSTEM_PROMPT,
        created_by=alice,
    )
    TestInputFactory(test_set=test_set, prompt="Claim 4471: rear-ended at lights.")
    run = TestSetRun.objects.create(
        test_set=test_set, targets=[], status="done", started_by=alice
    )
    return test_set, run


def test_another_team_cannot_read_the_test_sets_of_a_use_case_it_can_see(
    client, api_client, carol, claims_case, claims_test_set
):
    test_set, run = claims_test_set
    api_client.force_authenticate(carol)
    client.force_login(carol)
    assert api_client.get(f"/api/v1/use-cases/{claims_case.pk}/").status_code == 200

    assert api_client.get(TEST_SETS).json()["results"] == []
    assert api_client.get(f"{TEST_SETS}{test_set.pk}/").status_code == 404
    assert api_client.get(TEST_SET_RUNS).json()["results"] == []
    assert api_client.get(f"{TEST_SET_RUNS}{run.pk}/").status_code == 404
    assert client.get(test_set.get_absolute_url()).status_code == 404
    assert client.get(run.get_absolute_url()).status_code == 404
    panel = client.get(
        reverse("playground:use_case_panel", args=[claims_case.pk])
    ).content.decode()
    assert "Fraud routing" not in panel
    assert SYSTEM_PROMPT not in panel


def test_another_team_does_not_see_the_prompts_of_evidence_runs_in_the_panel(
    client, alice, carol, claims_case
):
    PlaygroundRunFactory(owner=alice, use_case=claims_case, prompt="Claim 4471 …")
    client.force_login(carol)

    panel = client.get(
        reverse("playground:use_case_panel", args=[claims_case.pk])
    ).content.decode()

    assert "Claim 4471" not in panel


def test_a_team_mate_reads_the_teams_test_sets(api_client, teammate, claims_test_set):
    test_set, run = claims_test_set
    api_client.force_authenticate(teammate)

    body = api_client.get(f"{TEST_SETS}{test_set.pk}/").json()

    assert body["system_prompt"] == SYSTEM_PROMPT
    assert api_client.get(f"{TEST_SET_RUNS}{run.pk}/").status_code == 200


@pytest.mark.parametrize("role", ["board", "platform", "procurement", "auditor"])
def test_roles_that_read_every_run_read_every_test_set(
    client, api_client, cast, role, claims_test_set
):
    test_set, run = claims_test_set
    api_client.force_authenticate(cast[role])
    client.force_login(cast[role])

    assert api_client.get(f"{TEST_SETS}{test_set.pk}/").status_code == 200
    assert api_client.get(f"{TEST_SET_RUNS}{run.pk}/").status_code == 200
    assert client.get(test_set.get_absolute_url()).status_code == 200
