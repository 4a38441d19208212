"""What the playground sends is usage: samples for endpoints no collector counts.

Recorded through the ledger's writer (the gateway's): each answer is spooled
once the run is saved and lands in its hour's sample when the spool is flushed.
"""

from __future__ import annotations

import pytest
from django.db.models import Sum

from apps.endpoints.models import DailyUsage, UsageSample
from apps.playground import services
from apps.playground.guard import DataDeclaration
from apps.playground.models import RunOutput, TestResult
from tests.factories import TestInputFactory, TestSetFactory, UseCaseFactory

from .conftest import LOCAL_MODEL, flush_usage, form_data, stream, target

pytestmark = pytest.mark.django_db


def run_on(user, *endpoints, use_case=None):  # type: ignore[no-untyped-def]
    declaration = (
        DataDeclaration.of_use_case(use_case)
        if use_case is not None
        else DataDeclaration(classification="internal")
    )
    params = services.RunParams(
        prompt="Which queue does this claim go to?",
        targets=[(e.pk, e.served_models[0]) for e in endpoints],
        declaration=declaration,
        max_tokens=64,
    )
    run = services.execute_run(user=user, params=params)
    flush_usage()
    return run


def series(output, use_case=None) -> str:  # type: ignore[no-untyped-def]
    return f"portal|model={output.model}|use_case={use_case.pk if use_case else ''}"


def test_a_run_records_one_sample_per_answer_on_an_openai_compatible_endpoint(
    alice, big_endpoint, local_endpoint, big_server, local_server
):
    use_case = UseCaseFactory(owner=alice, data_classification="internal")

    run = run_on(alice, big_endpoint, local_endpoint, use_case=use_case)

    big = run.outputs.get(endpoint=big_endpoint)
    assert big.status == RunOutput.Status.DONE and big.output_tokens
    (sample,) = UsageSample.objects.filter(endpoint=big_endpoint)
    assert sample.series == series(big, use_case)
    assert sample.requests == 1
    assert (sample.input_tokens, sample.output_tokens) == (
        big.input_tokens,
        big.output_tokens,
    )
    assert sample.model == big.model and sample.use_case == use_case
    day = DailyUsage.objects.get(endpoint=big_endpoint)
    assert (day.requests, day.use_case) == (1, use_case)
    # vLLM counters already count what the playground sent: nothing twice.
    assert not UsageSample.objects.filter(endpoint=local_endpoint).exists()


def test_saving_a_runs_usage_again_does_not_double_it(alice, big_endpoint, big_server):
    run = run_on(alice, big_endpoint)

    services.record_run_usage(run=run)
    services.record_run_usage(run=run)
    flush_usage()

    assert UsageSample.objects.filter(endpoint=big_endpoint).count() == 1
    assert DailyUsage.objects.get(endpoint=big_endpoint).requests == 1


def test_attaching_a_run_moves_its_usage_to_that_use_case(
    alice, big_endpoint, big_server
):
    run = run_on(alice, big_endpoint)
    assert UsageSample.objects.get(endpoint=big_endpoint).use_case is None
    use_case = UseCaseFactory(owner=alice)

    services.attach_run(run=run, use_case=use_case, by=alice)
    flush_usage()

    (sample,) = UsageSample.objects.filter(endpoint=big_endpoint)
    assert sample.use_case == use_case
    assert DailyUsage.objects.get(endpoint=big_endpoint).use_case == use_case


def test_a_run_on_a_vllm_endpoint_records_no_sample(
    alice, local_endpoint, local_server
):
    run = run_on(alice, local_endpoint)

    assert run.outputs.get().status == RunOutput.Status.DONE
    assert not UsageSample.objects.exists()
    assert not DailyUsage.objects.exists()


def test_a_failed_call_is_not_usage(alice, big_endpoint, big_server):
    big_server.fail("/v1/chat/completions", status=503)

    run = run_on(alice, big_endpoint)

    assert run.outputs.get().status == RunOutput.Status.ERROR
    assert not UsageSample.objects.exists()


def test_a_streamed_run_records_its_usage(alice, big_endpoint, big_server):
    response = stream(alice, form_data(target(big_endpoint)))

    assert response.status == 200
    assert not UsageSample.objects.exists()  # spooled, not written while streaming
    assert flush_usage() == 1
    output = RunOutput.objects.get(endpoint=big_endpoint)
    (sample,) = UsageSample.objects.filter(endpoint=big_endpoint)
    assert sample.series == series(output)
    assert sample.output_tokens == output.output_tokens


def test_a_test_set_run_records_each_result_once(
    alice, big_endpoint, local_endpoint, big_server, local_server
):
    use_case = UseCaseFactory(owner=alice, data_classification="internal")
    test_set = TestSetFactory(use_case=use_case, created_by=alice)
    for prompt in ("A van hit a fence.", "A tree fell on a shed."):
        TestInputFactory(
            test_set=test_set, prompt=prompt, check_kind="contains", expected="motor"
        )
    run = services.start_test_set_run(
        test_set=test_set,
        targets=[
            (big_endpoint.pk, big_endpoint.served_models[0]),
            (local_endpoint.pk, LOCAL_MODEL),
        ],
        by=alice,
    )

    services.execute_test_set_run(run_id=run.pk)
    run.status = "running"
    run.save(update_fields=["status"])
    services.execute_test_set_run(run_id=run.pk)  # a retried task
    flush_usage()

    results = TestResult.objects.filter(run=run, position=0)
    assert results.count() == 2
    samples = UsageSample.objects.filter(endpoint=big_endpoint)
    assert list(samples.values_list("series", flat=True)) == [
        f"portal|model={big_endpoint.served_models[0]}|use_case={use_case.pk}"
    ]
    assert {s.use_case_id for s in samples} == {use_case.pk}
    totals = samples.aggregate(r=Sum("requests"), o=Sum("output_tokens"))
    assert totals == {
        "r": 2,
        "o": sum(result.output_tokens or 0 for result in results),
    }
    assert not UsageSample.objects.filter(endpoint=local_endpoint).exists()


def test_the_usage_api_shows_what_the_playground_sent(
    api_client, alice, dave, big_endpoint, big_server
):
    use_case = UseCaseFactory(owner=alice, data_classification="internal")
    run = run_on(alice, big_endpoint, use_case=use_case)
    output = run.outputs.get()
    api_client.force_authenticate(dave)

    response = api_client.get(
        "/api/v1/usage/", {"endpoint": big_endpoint.pk, "use_case": use_case.pk}
    )

    assert response.status_code == 200
    (row,) = response.json()["results"]
    assert row["series"] == series(output, use_case)
    assert row["requests"] == 1 and row["use_case"] == use_case.pk
    assert row["output_tokens"] == output.output_tokens
