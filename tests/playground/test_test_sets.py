"""Test sets: inputs with checks, run against candidates in the background."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from apps.playground import services
from apps.playground.guard import GuardRefused
from apps.playground.models import TestResult, TestSetRun
from apps.usecases.models import AuditEvent
from tests.factories import TestInputFactory, TestSetFactory, UseCaseFactory

from .conftest import EXTERNAL_MODEL, LOCAL_MODEL

pytestmark = pytest.mark.django_db


@pytest.fixture
def test_set(alice):  # type: ignore[no-untyped-def]
    use_case = UseCaseFactory(owner=alice, data_classification="internal")
    test_set = TestSetFactory(use_case=use_case, name="Routing", created_by=alice)
    TestInputFactory(
        test_set=test_set,
        prompt="A van hit a fence.",
        check_kind="contains",
        expected="motor",
    )
    TestInputFactory(
        test_set=test_set, prompt="Answer in JSON.", check_kind="json", expected=""
    )
    TestInputFactory(
        test_set=test_set, prompt="Which queue?", check_kind="regex", expected=r"^Route"
    )
    TestInputFactory(
        test_set=test_set,
        prompt="Say it exactly.",
        check_kind="exact",
        expected="Route it to motor claims.",
    )
    return test_set


def test_a_run_scores_every_input_on_every_candidate(
    django_capture_on_commit_callbacks,
    alice,
    test_set,
    local_endpoint,
    external_endpoint,
    local_server,
    external_server,
    catalogue_price,
):
    with django_capture_on_commit_callbacks() as callbacks:
        run = services.start_test_set_run(
            test_set=test_set,
            targets=[
                (local_endpoint.pk, LOCAL_MODEL),
                (external_endpoint.pk, EXTERNAL_MODEL),
            ],
            by=alice,
        )
    assert len(callbacks) == 1  # the task is enqueued on commit
    assert run.status == TestSetRun.Status.QUEUED and run.total == 8

    services.execute_test_set_run(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == TestSetRun.Status.DONE
    assert run.completed == 8 and run.percent == 100
    local, external = run.summary()
    # Local answers "The claim goes to the motor queue.": passes contains only.
    assert (local.count, local.passed, local.errors) == (4, 1, 0)
    # External answers "Route it to motor claims.": contains, regex and exact.
    assert (external.count, external.passed) == (4, 3)
    assert external.pass_rate == 0.75
    assert local.median_latency_ms > 0
    assert local.self_hosted is True and local.cost_per_1000 is None
    costs = [r.cost_usd for r in TestResult.objects.filter(run=run, position=1)]
    assert external.cost_per_1000 == (sum(costs) / 4 * 1000).quantize(Decimal("0.0001"))
    assert external.cost_per_1000 > 0


def test_a_failing_candidate_is_scored_as_errors(
    alice, test_set, local_endpoint, big_endpoint, local_server
):
    local_server.fail("/v1/chat/completions", status=503)
    run = services.start_test_set_run(
        test_set=test_set,
        targets=[
            (local_endpoint.pk, LOCAL_MODEL),
            (big_endpoint.pk, big_endpoint.served_models[0]),
        ],
        by=alice,
    )

    services.execute_test_set_run(run_id=run.pk)

    failing, healthy = run.summary()
    assert (failing.errors, failing.passed) == (4, 0)
    assert failing.median_latency_ms is None
    assert healthy.errors == 0


def test_running_twice_adds_nothing(alice, test_set, local_endpoint, local_server):
    run = services.start_test_set_run(
        test_set=test_set, targets=[(local_endpoint.pk, LOCAL_MODEL)], by=alice
    )
    services.execute_test_set_run(run_id=run.pk)
    calls = len(local_server.requests)

    again = services.execute_test_set_run(run_id=run.pk)

    assert again is None
    assert len(local_server.requests) == calls
    assert TestResult.objects.filter(run=run).count() == 4


def test_a_redelivered_run_resumes_where_it_stopped(
    alice, test_set, local_endpoint, local_server
):
    run = services.start_test_set_run(
        test_set=test_set, targets=[(local_endpoint.pk, LOCAL_MODEL)], by=alice
    )
    first = test_set.inputs.first()
    TestResult.objects.create(
        run=run, test_input=first, position=0, passed=True, output="x"
    )
    TestSetRun.objects.filter(pk=run.pk).update(status=TestSetRun.Status.RUNNING)

    services.execute_test_set_run(run_id=run.pk)

    assert len([r for r in local_server.requests if r.method == "POST"]) == 3
    assert TestResult.objects.filter(run=run).count() == 4


def test_the_use_cases_data_keeps_test_sets_off_external_endpoints(
    carol, local_endpoint, external_endpoint, external_server
):
    use_case = UseCaseFactory(
        owner=carol, data_classification="restricted", special_categories=["health"]
    )
    test_set = TestSetFactory(use_case=use_case, created_by=carol)
    TestInputFactory(test_set=test_set)

    with pytest.raises(GuardRefused):
        services.start_test_set_run(
            test_set=test_set,
            targets=[(external_endpoint.pk, EXTERNAL_MODEL)],
            by=carol,
        )

    assert not TestSetRun.objects.exists()
    event = AuditEvent.objects.get(kind="playground.refused")
    assert event.use_case == use_case and event.data["via"] == "test_set"
    assert external_server.requests == []


def test_a_run_queued_before_the_data_changed_is_refused_when_it_runs(
    alice, test_set, external_endpoint, external_server
):
    run = services.start_test_set_run(
        test_set=test_set, targets=[(external_endpoint.pk, EXTERNAL_MODEL)], by=alice
    )
    use_case = test_set.use_case
    use_case.data_classification = "restricted"
    use_case.save()

    services.execute_test_set_run(run_id=run.pk)

    run.refresh_from_db()
    assert run.status == TestSetRun.Status.FAILED
    assert "may not leave" in run.error
    assert external_server.requests == []


class TestPages:
    def test_the_owner_adds_inputs_and_starts_a_run(
        self,
        client,
        alice,
        test_set,
        local_endpoint,
        django_capture_on_commit_callbacks,
    ):
        client.force_login(alice)
        client.post(
            reverse("playground:test_input_add", args=[test_set.pk]),
            {
                "prompt": "Hail damage to a roof.",
                "check_kind": "contains",
                "expected": "home",
            },
        )
        assert test_set.inputs.count() == 5

        with django_capture_on_commit_callbacks() as callbacks:
            response = client.post(
                reverse("playground:test_set_run_start", args=[test_set.pk]),
                {"target": [f"{local_endpoint.pk}:{LOCAL_MODEL}", ""]},
            )

        run = TestSetRun.objects.get()
        assert (
            response.status_code == 302
            and response["Location"] == run.get_absolute_url()
        )
        assert len(callbacks) == 1
        assert run.total == 5

    def test_an_invalid_regex_is_refused_with_a_message(self, client, alice, test_set):
        client.force_login(alice)

        response = client.post(
            reverse("playground:test_input_add", args=[test_set.pk]),
            {"prompt": "x", "check_kind": "regex", "expected": "("},
        )

        assert response.status_code == 400
        assert "Not a valid regular expression" in response.content.decode()

    def test_external_endpoints_are_disabled_for_a_restricted_use_case(
        self, client, carol, external_endpoint, local_endpoint
    ):
        use_case = UseCaseFactory(owner=carol, data_classification="restricted")
        test_set = TestSetFactory(use_case=use_case, created_by=carol)
        client.force_login(carol)

        page = client.get(test_set.get_absolute_url()).content.decode()
        refused = client.post(
            reverse("playground:test_set_run_start", args=[test_set.pk]),
            {"target": [f"{external_endpoint.pk}:{EXTERNAL_MODEL}"]},
        )

        assert f'value="{external_endpoint.pk}:{EXTERNAL_MODEL}" disabled' in page
        assert refused.status_code == 403
        assert "may not leave" in refused.content.decode()

    def test_the_progress_fragment_polls_until_done_then_shows_scores(
        self, client, alice, test_set, local_endpoint
    ):
        run = services.start_test_set_run(
            test_set=test_set, targets=[(local_endpoint.pk, LOCAL_MODEL)], by=alice
        )
        client.force_login(alice)
        url = run.get_absolute_url()

        polling = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        services.execute_test_set_run(run_id=run.pk)
        finished = client.get(url, HTTP_HX_REQUEST="true").content.decode()

        assert 'hx-trigger="every 1s"' in polling and "0 of 4" in polling
        assert "every 1s" not in finished
        assert "test-set-summary" in finished
        assert "25% (1/4)" in finished
        assert "self-hosted (hourly)" in finished

    def test_other_teams_cannot_see_or_change_a_test_set(self, client, carol, test_set):
        # alice's use-case is an internal draft: carol (another team) cannot see it.
        client.force_login(carol)

        assert client.get(test_set.get_absolute_url()).status_code == 404
        response = client.post(
            reverse("playground:test_input_add", args=[test_set.pk]),
            {"prompt": "x", "check_kind": "contains", "expected": "y"},
        )
        assert response.status_code == 404

    @pytest.mark.parametrize("role", ["procurement", "auditor"])
    def test_readers_see_test_sets_but_cannot_change_them(
        self, client, cast, role, test_set
    ):
        client.force_login(cast[role])

        assert client.get(test_set.get_absolute_url()).status_code == 200
        response = client.post(
            reverse("playground:test_input_add", args=[test_set.pk]),
            {"prompt": "x", "check_kind": "contains", "expected": "y"},
        )
        assert response.status_code == 403

    def test_the_owner_creates_a_test_set_from_the_use_case(self, client, alice):
        use_case = UseCaseFactory(owner=alice)
        client.force_login(alice)

        response = client.post(
            reverse("playground:test_set_create", args=[use_case.pk]),
            {
                "name": "Routing",
                "system_prompt": "",
                "temperature": "0",
                "max_tokens": "64",
            },
        )

        test_set = use_case.test_sets.get()
        assert response["Location"] == test_set.get_absolute_url()
        assert test_set.created_by == alice
