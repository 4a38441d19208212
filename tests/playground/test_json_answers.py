"""A stream was asked for but the server answered one plain JSON body."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.servers import RecordedRequest, Reply

from .conftest import CLAUDE_MODEL, form_data, stream, target

pytestmark = pytest.mark.django_db


def json_reply(body: dict[str, Any], status: int = 200) -> Any:
    def handler(request: RecordedRequest) -> Reply:
        assert request.json()["stream"] is True
        return Reply(
            status, {"content-type": "application/json"}, json.dumps(body).encode()
        )

    return handler


def anthropic_endpoint(server: Any) -> Any:
    from tests.factories import ServingEndpointFactory

    endpoint = ServingEndpointFactory(
        name="Anthropic",
        kind="anthropic",
        base_url=server.url,
        location="external",
        served_models=[CLAUDE_MODEL],
    )
    endpoint.set_api_key("sk-ant-test")
    endpoint.save()
    return endpoint


def test_a_json_message_answer_shows_its_text_and_usage(alice, external_server):
    """Anthropic's non-streaming Message body, served as application/json."""
    external_server.route(
        "POST",
        "/v1/messages",
        json_reply(
            {
                "id": "msg_01",
                "type": "message",
                "role": "assistant",
                "model": CLAUDE_MODEL,
                "content": [{"type": "text", "text": "Motor claims, clearly."}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 21, "output_tokens": 6},
            }
        ),
    )
    endpoint = anthropic_endpoint(external_server)

    result = stream(alice, form_data(target(endpoint), data_classification="public"))

    assert result.text(0) == "Motor claims, clearly."
    metrics = result.column(0)["metrics"]
    assert (metrics["input_tokens"], metrics["output_tokens"]) == (21, 6)
    assert result.column(0)["status"] == "done"


def test_a_json_chat_completion_from_a_proxy_shows_its_text_and_usage(
    alice, external_server
):
    """A proxy in front of Claude that answers a whole chat.completion."""
    external_server.route(
        "POST",
        "/v1/messages",
        json_reply(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1730419200,
                "model": CLAUDE_MODEL,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Property queue."},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": 30,
                    "completion_tokens": 4,
                    "total_tokens": 34,
                },
            }
        ),
    )
    endpoint = anthropic_endpoint(external_server)

    result = stream(alice, form_data(target(endpoint), data_classification="public"))

    assert result.text(0) == "Property queue."
    metrics = result.column(0)["metrics"]
    assert (metrics["input_tokens"], metrics["output_tokens"]) == (30, 4)


def test_a_json_error_body_is_a_clear_error(alice, external_server):
    """An error object with a 200 status: shown as the column's error."""
    external_server.route(
        "POST",
        "/v1/messages",
        json_reply(
            {
                "type": "error",
                "error": {
                    "type": "overloaded_error",
                    "message": "Overloaded, try again.",
                },
            }
        ),
    )
    endpoint = anthropic_endpoint(external_server)

    result = stream(alice, form_data(target(endpoint), data_classification="public"))

    assert result.column(0)["status"] == "error"
    assert "Overloaded, try again." in result.column(0)["error"]
    assert result.text(0) == ""


def test_an_answer_with_neither_text_nor_usage_is_an_error(
    alice, local_endpoint, local_server
):
    """A JSON body of an unknown shape no longer passes as an empty answer."""
    local_server.route(
        "POST", "/v1/chat/completions", json_reply({"id": "x", "object": "nothing"})
    )

    result = stream(alice, form_data(target(local_endpoint)))

    assert result.column(0)["status"] == "error"
    assert "no text and no usage" in result.column(0)["error"]
