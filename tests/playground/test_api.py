"""`/api/v1/playground/`: non-streaming runs with the same guard, test sets, results."""

from __future__ import annotations

import pytest

from apps.accounts.models import ApiToken
from apps.playground import services
from apps.playground.models import PlaygroundRun
from apps.usecases.models import AuditEvent
from tests.factories import (
    PlaygroundRunFactory,
    TestInputFactory,
    TestSetFactory,
    UseCaseFactory,
)

from .conftest import EXTERNAL_MODEL, LOCAL_MODEL

pytestmark = pytest.mark.django_db
RUNS = "/api/v1/playground/runs/"
TEST_SETS = "/api/v1/playground/test-sets/"
TEST_SET_RUNS = "/api/v1/playground/test-set-runs/"


def payload(*targets: tuple[int, str], **overrides):  # type: ignore[no-untyped-def]
    data = {
        "prompt": "Which queue does this claim go to?",
        "system_prompt": "You route claims.",
        "temperature": 0.1,
        "max_tokens": 64,
        "data_classification": "internal",
        "targets": [{"endpoint": pk, "model": model} for pk, model in targets],
    }
    data.update(overrides)
    return data


def test_it_runs_a_prompt_on_every_target_and_saves_it(
    api_client,
    alice,
    local_endpoint,
    external_endpoint,
    local_server,
    external_server,
    catalogue_price,
):
    api_client.force_authenticate(alice)

    response = api_client.post(
        RUNS,
        payload(
            (local_endpoint.pk, LOCAL_MODEL), (external_endpoint.pk, EXTERNAL_MODEL)
        ),
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    run = PlaygroundRun.objects.get(pk=body["id"])
    assert body["owner"] == "alice" and run.owner == alice
    local, external = body["outputs"]
    assert local["status"] == "done" and local["text"] == local_server.chat_reply
    assert local["cost_basis"] == "hourly" and local["cost_usd"] is None
    assert external["cost_basis"] == "per_token" and float(external["cost_usd"]) > 0
    assert external["ttft_ms"] <= external["total_ms"]
    assert external["output_tokens"] == len(external_server.chat_reply.split())


def test_it_refuses_external_targets_for_data_that_may_not_leave(
    api_client, alice, local_endpoint, external_endpoint, external_server, local_server
):
    api_client.force_authenticate(alice)

    response = api_client.post(
        RUNS,
        payload(
            (local_endpoint.pk, LOCAL_MODEL),
            (external_endpoint.pk, EXTERNAL_MODEL),
            data_classification="restricted",
        ),
        format="json",
    )

    assert response.status_code == 403
    assert response.json()["refused"] == ["OpenAI"]
    assert "may not leave" in response.json()["detail"]
    assert external_server.requests == [] and local_server.requests == []
    event = AuditEvent.objects.get(kind="playground.refused")
    assert event.actor == alice and event.data["via"] == "api"
    assert not PlaygroundRun.objects.exists()


def test_a_use_case_profile_decides_through_the_api(
    api_client, carol, external_endpoint
):
    use_case = UseCaseFactory(
        owner=carol, data_classification="internal", special_categories=["health"]
    )
    api_client.force_authenticate(carol)

    response = api_client.post(
        RUNS,
        payload(
            (external_endpoint.pk, EXTERNAL_MODEL),
            data_classification="public",
            use_case=use_case.pk,
        ),
        format="json",
    )

    assert response.status_code == 403
    assert AuditEvent.objects.get(kind="playground.refused").use_case == use_case


def test_it_requires_the_data_to_be_stated(api_client, alice, local_endpoint):
    api_client.force_authenticate(alice)
    data = payload((local_endpoint.pk, LOCAL_MODEL))
    del data["data_classification"]

    response = api_client.post(RUNS, data, format="json")

    assert response.status_code == 400
    assert "data_classification" in response.json()


def test_it_rejects_unknown_targets_with_field_errors(
    api_client, alice, local_endpoint
):
    api_client.force_authenticate(alice)

    response = api_client.post(
        RUNS, payload((local_endpoint.pk, "no-such-model")), format="json"
    )
    empty = api_client.post(RUNS, payload(), format="json")

    assert response.status_code == 400 and "targets" in response.json()
    assert empty.status_code == 400 and "targets" in empty.json()


@pytest.mark.parametrize("role", ["procurement", "auditor"])
def test_readers_cannot_run_prompts(
    api_client, cast, role, local_endpoint, local_server
):
    api_client.force_authenticate(cast[role])

    response = api_client.post(
        RUNS, payload((local_endpoint.pk, LOCAL_MODEL)), format="json"
    )

    assert response.status_code == 403
    assert local_server.requests == []


def test_a_read_only_token_cannot_run_prompts(api_client, alice, local_endpoint):
    _, key = ApiToken.issue(user=alice, name="reader", scope=ApiToken.Scope.READ)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    response = api_client.post(
        RUNS, payload((local_endpoint.pk, LOCAL_MODEL)), format="json"
    )

    assert response.status_code == 403
    assert api_client.get(RUNS).status_code == 200


def test_it_throttles_runs_per_user(settings, api_client, alice, local_endpoint):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "playground": "1/minute",
        },
    }
    api_client.force_authenticate(alice)
    data = payload((local_endpoint.pk, LOCAL_MODEL))

    first = api_client.post(RUNS, data, format="json")
    second = api_client.post(RUNS, data, format="json")

    assert first.status_code == 201
    assert second.status_code == 429
    assert int(second["Retry-After"]) >= 1
    assert api_client.get(RUNS).status_code == 200  # reading is not throttled


def test_requesters_list_their_own_runs_and_the_board_all(
    api_client, alice, carol, bob, erin
):
    mine = PlaygroundRunFactory(owner=alice)
    theirs = PlaygroundRunFactory(owner=carol)

    def ids(user):  # type: ignore[no-untyped-def]
        api_client.force_authenticate(user)
        body = api_client.get(RUNS).json()
        return {row["id"] for row in body["results"]}

    assert ids(alice) == {mine.pk}
    assert ids(bob) == {mine.pk, theirs.pk}
    assert ids(erin) == {mine.pk, theirs.pk}
    api_client.force_authenticate(alice)
    assert api_client.get(f"{RUNS}{theirs.pk}/").status_code == 404


def test_the_run_list_is_paginated_with_few_queries(
    api_client, bob, alice, django_assert_max_num_queries
):
    for _ in range(5):
        PlaygroundRunFactory(owner=alice, outputs=2)
    api_client.force_authenticate(bob)
    with django_assert_max_num_queries(10) as few:
        api_client.get(RUNS)
    for _ in range(45):
        PlaygroundRunFactory(owner=alice, outputs=2)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = api_client.get(RUNS).json()
    assert body["count"] == 50


def test_the_owner_attaches_a_run_through_the_api(api_client, alice, bob):
    use_case = UseCaseFactory(owner=alice)
    run = PlaygroundRunFactory(owner=alice)
    api_client.force_authenticate(alice)

    response = api_client.post(
        f"{RUNS}{run.pk}/attach/", {"use_case": use_case.pk}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["use_case"] == use_case.pk
    api_client.force_authenticate(bob)
    evidence = api_client.get(RUNS, {"use_case": use_case.pk}).json()["results"]
    assert [row["id"] for row in evidence] == [run.pk]


class TestTestSets:
    def test_test_sets_are_listed_by_visible_use_case(
        self, api_client, alice, carol, erin
    ):
        own = TestSetFactory(use_case=UseCaseFactory(owner=alice), created_by=alice)
        TestInputFactory(test_set=own, check_kind="regex", expected=r"^motor$")
        hidden = TestSetFactory(
            use_case=UseCaseFactory(owner=carol, data_classification="restricted"),
            created_by=carol,
        )

        api_client.force_authenticate(alice)
        alice_sees = api_client.get(TEST_SETS).json()["results"]
        api_client.force_authenticate(erin)
        erin_sees = {row["id"] for row in api_client.get(TEST_SETS).json()["results"]}

        assert [row["id"] for row in alice_sees] == [own.pk]
        assert alice_sees[0]["inputs"][0]["check_kind"] == "regex"
        assert erin_sees == {own.pk, hidden.pk}

    def test_a_test_set_runs_in_the_background_and_reports_scores(
        self, api_client, alice, local_endpoint, django_capture_on_commit_callbacks
    ):
        test_set = TestSetFactory(
            use_case=UseCaseFactory(owner=alice), created_by=alice
        )
        TestInputFactory(test_set=test_set, check_kind="contains", expected="motor")
        api_client.force_authenticate(alice)

        with django_capture_on_commit_callbacks() as callbacks:
            response = api_client.post(
                f"{TEST_SETS}{test_set.pk}/run/",
                {"targets": [{"endpoint": local_endpoint.pk, "model": LOCAL_MODEL}]},
                format="json",
            )
        assert response.status_code == 202
        assert (
            response.json()["status"] == "queued" and response.json()["summary"] is None
        )
        assert len(callbacks) == 1
        services.execute_test_set_run(run_id=response.json()["id"])

        result = api_client.get(f"{TEST_SET_RUNS}{response.json()['id']}/").json()

        assert result["status"] == "done" and result["completed"] == 1
        (row,) = result["summary"]
        assert row["pass_rate"] == 1.0 and row["self_hosted"] is True
        assert row["median_latency_ms"] > 0

    def test_running_a_test_set_is_guarded(self, api_client, carol, external_endpoint):
        use_case = UseCaseFactory(owner=carol, data_classification="restricted")
        test_set = TestSetFactory(use_case=use_case, created_by=carol)
        TestInputFactory(test_set=test_set)
        api_client.force_authenticate(carol)

        response = api_client.post(
            f"{TEST_SETS}{test_set.pk}/run/",
            {"targets": [{"endpoint": external_endpoint.pk, "model": EXTERNAL_MODEL}]},
            format="json",
        )

        assert response.status_code == 403
        assert response.json()["refused"] == ["OpenAI"]

    def test_readers_cannot_start_test_set_runs(
        self, api_client, alice, erin, local_endpoint
    ):
        test_set = TestSetFactory(
            use_case=UseCaseFactory(owner=alice), created_by=alice
        )
        api_client.force_authenticate(erin)

        response = api_client.post(
            f"{TEST_SETS}{test_set.pk}/run/",
            {"targets": [{"endpoint": local_endpoint.pk, "model": LOCAL_MODEL}]},
            format="json",
        )

        assert response.status_code == 403


def test_the_schema_describes_the_playground(api_client, alice):
    api_client.force_authenticate(alice)

    schema = api_client.get("/api/schema/", {"format": "json"}).json()

    assert "/api/v1/playground/runs/" in schema["paths"]
    assert "post" in schema["paths"]["/api/v1/playground/runs/"]
