"""The streaming view against real OpenAI-compatible servers on loopback."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from apps.playground.models import PlaygroundRun, RunOutput
from tests.servers import RecordedRequest, Reply

from .conftest import (
    CLAUDE_MODEL,
    LOCAL_MODEL,
    anthropic_route,
    form_data,
    stream,
    target,
)

pytestmark = pytest.mark.django_db


def test_it_streams_each_answer_into_its_column_in_order(
    alice, local_endpoint, big_endpoint, local_server, big_server
):
    local_server.chunk_delay = 0.02
    big_server.chunk_delay = 0.02

    result = stream(alice, form_data(target(local_endpoint), target(big_endpoint)))

    assert result.status == 200
    assert result.headers["Content-Type"].startswith("text/event-stream")
    kinds = [kind for kind, _, _ in result.events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert [c["model"] for c in result.of("start")[0]["columns"]] == [
        local_endpoint.served_models[0],
        big_endpoint.served_models[0],
    ]
    assert result.text(0) == local_server.chat_reply
    assert result.text(1) == big_server.chat_reply
    # Word by word, as the servers sent them.
    assert [d["text"] for d in result.of("delta") if d["column"] == 0] == [
        "The",
        " claim",
        " goes",
        " to",
        " the",
        " motor",
        " queue.",
    ]
    # Each column's end comes after its last delta.
    for column in (0, 1):
        last_delta = max(
            i
            for i, (k, d, _) in enumerate(result.events)
            if k == "delta" and d["column"] == column
        )
        end = next(
            i
            for i, (k, d, _) in enumerate(result.events)
            if k == "column" and d["column"] == column
        )
        assert end > last_delta


def test_it_sends_to_every_model_at_once(
    alice, local_endpoint, big_endpoint, local_server, big_server
):
    """Two answers arrive interleaved: column 1 starts before column 0 ends."""
    local_server.chat_reply = big_server.chat_reply = "one two three four five six"
    local_server.chunk_delay = big_server.chunk_delay = 0.05

    result = stream(alice, form_data(target(local_endpoint), target(big_endpoint)))

    columns = [d["column"] for d in result.of("delta")]
    first_of_1 = columns.index(1)
    assert 0 in columns[first_of_1:], "column 1 started only after column 0 ended"


def test_it_delivers_the_first_tokens_before_the_answer_is_complete(
    alice, local_endpoint, local_server
):
    local_server.chat_reply = "a b c d e f g h"
    local_server.chunk_delay = 0.1

    result = stream(alice, form_data(target(local_endpoint)))

    first_delta = next(t for k, _, t in result.events if k == "delta")
    column_end = next(t for k, _, t in result.events if k == "column")
    assert column_end - first_delta > 0.5


def test_it_sends_the_prompt_parameters_and_asks_for_usage(
    alice, big_endpoint, big_server
):
    stream(alice, form_data(target(big_endpoint), temperature="0.9", max_tokens="64"))

    (request,) = [r for r in big_server.requests if r.path == "/v1/chat/completions"]
    body = request.json()
    assert body["model"] == big_endpoint.served_models[0]
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.9
    assert body["max_tokens"] == 64
    assert body["messages"] == [
        {"role": "system", "content": "You route insurance claims."},
        {
            "role": "user",
            "content": "Which queue does this claim go to? A van hit a fence.",
        },
    ]


def test_it_sends_the_api_key_to_the_endpoint(
    alice, external_endpoint, external_server
):
    stream(alice, form_data(target(external_endpoint), data_classification="public"))

    (request,) = [
        r for r in external_server.requests if r.path == "/v1/chat/completions"
    ]
    assert request.headers["authorization"] == "Bearer sk-test-playground"
    # OpenAI's own API takes max_completion_tokens.
    assert request.json()["max_completion_tokens"] == 128


def test_it_records_the_run_with_metrics(
    alice, local_endpoint, big_endpoint, local_server
):
    local_server.chunk_delay = 0.01

    result = stream(alice, form_data(target(local_endpoint), target(big_endpoint)))

    run = PlaygroundRun.objects.get(pk=result.of("done")[0]["run"])
    assert run.owner == alice
    assert run.prompt.startswith("Which queue")
    assert run.system_prompt == "You route insurance claims."
    assert (run.temperature, run.max_tokens) == (0.2, 128)
    assert run.data_classification == "internal"
    assert run.may_leave_infrastructure is True
    assert not run.stopped
    first, second = run.outputs.order_by("position")
    assert first.endpoint == local_endpoint and first.model == LOCAL_MODEL
    assert first.status == RunOutput.Status.DONE
    assert first.text == local_server.chat_reply
    # The fake server counts words of the messages in, of its reply out.
    words_in = len(run.system_prompt.split()) + len(run.prompt.split())
    assert (first.input_tokens, first.output_tokens) == (
        words_in,
        len(local_server.chat_reply.split()),
    )
    assert 0 < first.ttft_ms <= first.total_ms
    assert first.tokens_per_second > 0
    # Self-hosted by the hour: no made-up per-token cost.
    assert first.cost_basis == RunOutput.CostBasis.HOURLY and first.cost_usd is None
    assert result.column(0)["metrics"]["cost_basis"] == "hourly"
    # In-house without prices: unknown.
    assert second.cost_basis == RunOutput.CostBasis.UNKNOWN
    assert result.column(1)["metrics"]["ttft_ms"] == pytest.approx(
        second.ttft_ms, abs=0.1
    )


def test_it_prices_tokens_from_the_catalogue(
    alice, external_endpoint, external_server, catalogue_price
):
    data = form_data(target(external_endpoint), data_classification="public")
    result = stream(alice, data)

    output = RunOutput.objects.get()
    words_in = len(data["system_prompt"].split()) + len(data["prompt"].split())
    words_out = len(external_server.chat_reply.split())
    assert (output.input_tokens, output.output_tokens) == (words_in, words_out)
    expected = (
        Decimal(words_in) * Decimal("0.15") + Decimal(words_out) * Decimal("0.60")
    ) / 1_000_000
    assert output.cost_basis == RunOutput.CostBasis.PER_TOKEN
    assert output.cost_usd == expected
    assert Decimal(result.column(0)["metrics"]["cost_usd"]) == expected.quantize(
        Decimal("0.000001")
    )


def test_it_streams_from_anthropics_messages_api(alice, external_server):
    from tests.factories import ServingEndpointFactory

    external_server.route(
        "POST", "/v1/messages", anthropic_route("Motor claims, clearly.")
    )
    endpoint = ServingEndpointFactory(
        name="Anthropic",
        kind="anthropic",
        base_url=external_server.url,
        location="external",
        served_models=[CLAUDE_MODEL],
    )
    endpoint.set_api_key("sk-ant-test")
    endpoint.save()

    result = stream(alice, form_data(target(endpoint), data_classification="public"))

    assert result.text(0) == "Motor claims, clearly."
    assert result.column(0)["metrics"]["input_tokens"] == 12
    assert result.column(0)["metrics"]["output_tokens"] == 3
    (request,) = [r for r in external_server.requests if r.path == "/v1/messages"]
    assert request.headers["x-api-key"] == "sk-ant-test"
    assert request.headers["anthropic-version"] == "2023-06-01"
    body = request.json()
    assert body["system"] == "You route insurance claims."
    assert body["messages"] == [
        {
            "role": "user",
            "content": "Which queue does this claim go to? A van hit a fence.",
        }
    ]
    assert body["stream"] is True


class TestFailures:
    """A model that errors or hangs shows it in its column; the others go on."""

    def test_a_server_error_shows_in_its_column_only(
        self, alice, local_endpoint, big_endpoint, local_server, big_server
    ):
        local_server.fail("/v1/chat/completions", status=500)

        result = stream(alice, form_data(target(local_endpoint), target(big_endpoint)))

        assert result.column(0)["status"] == "error"
        assert "HTTP 500" in result.column(0)["error"]
        assert "boom" in result.column(0)["error"]
        assert result.column(1)["status"] == "done"
        assert result.text(1) == big_server.chat_reply
        outputs = {o.position: o for o in RunOutput.objects.all()}
        assert outputs[0].status == "error" and "HTTP 500" in outputs[0].error
        assert outputs[1].status == "done" and outputs[1].text == big_server.chat_reply

    def test_a_hanging_server_times_out_while_the_other_answers(
        self, settings, alice, local_endpoint, big_endpoint, local_server, big_server
    ):
        settings.PLAYGROUND_READ_TIMEOUT_SECONDS = 0.5
        local_server.hang("/v1/chat/completions", seconds=30)

        started = time.perf_counter()
        result = stream(alice, form_data(target(local_endpoint), target(big_endpoint)))

        assert time.perf_counter() - started < 5
        assert result.column(0)["status"] == "error"
        assert "Timed out" in result.column(0)["error"]
        assert result.column(1)["status"] == "done"
        # The healthy column finished long before the hanging one gave up.
        done_at = {d["column"]: t for k, d, t in result.events if k == "column"}
        assert done_at[1] < done_at[0]

    def test_a_stream_that_stalls_keeps_what_came_before_the_timeout(
        self, settings, alice, local_endpoint, local_server
    ):
        settings.PLAYGROUND_READ_TIMEOUT_SECONDS = 0.4

        def stalls(request: RecordedRequest) -> Reply:
            def chunks():
                yield b'data: {"choices": [{"index": 0, "delta": {"content": "Partial"}}]}\n\n'
                time.sleep(2)
                yield b"data: [DONE]\n\n"

            return Reply(200, {"content-type": "text/event-stream"}, chunks=chunks())

        local_server.route("POST", "/v1/chat/completions", stalls)

        result = stream(alice, form_data(target(local_endpoint)))

        assert result.text(0) == "Partial"
        assert result.column(0)["status"] == "error"
        output = RunOutput.objects.get()
        assert output.text == "Partial" and "Timed out" in output.error

    def test_an_unreachable_endpoint_shows_an_error(
        self, alice, local_endpoint, big_endpoint
    ):
        local_endpoint.base_url = "http://127.0.0.1:9"  # nothing listens on discard
        local_endpoint.save()

        result = stream(alice, form_data(target(local_endpoint), target(big_endpoint)))

        assert result.column(0)["status"] == "error"
        assert "Could not reach" in result.column(0)["error"]
        assert result.column(1)["status"] == "done"

    def test_an_error_event_mid_stream_is_shown(
        self, alice, local_endpoint, local_server
    ):
        def errors(request: RecordedRequest) -> Reply:
            body = (
                b'data: {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}\n\n'
                b'data: {"error": {"message": "model overloaded"}}\n\n'
            )
            return Reply(200, {"content-type": "text/event-stream"}, body=body)

        local_server.route("POST", "/v1/chat/completions", errors)

        result = stream(alice, form_data(target(local_endpoint)))

        assert result.column(0)["status"] == "error"
        assert result.column(0)["error"] == "model overloaded"

    def test_a_refused_address_is_an_error_not_a_call(
        self, settings, alice, local_endpoint, local_server
    ):
        settings.ENDPOINT_ALLOWED_NETWORKS = []

        result = stream(alice, form_data(target(local_endpoint)))

        assert result.column(0)["status"] == "error"
        assert "refused" in result.column(0)["error"]
        assert local_server.requests == []
