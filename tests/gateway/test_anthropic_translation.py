"""OpenAI chat completions <-> Anthropic Messages translation (apps/gateway/anthropic.py).

Anthropic payloads are the documented formats (tests/fixtures/gateway/README.md); the
OpenAI side is checked against the official ``openai`` SDK's own types and its own
stream accumulator.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from apps.gateway.anthropic import (
    JSON_TOOL,
    SSEDecoder,
    StreamTranslator,
    TranslationError,
    UpstreamError,
    Usage,
    error_from_anthropic,
    from_anthropic,
    iter_sse_events,
    json_tool_for,
    request_headers,
    to_anthropic,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gateway"
MODEL = "claude-sonnet-4-5-20250929"
CLIENT_MODEL = "reasoning"
REQUEST_ID = "chatcmpl-gw-0001"


def load_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def load_events(name: str) -> list[tuple[str, dict[str, Any]]]:
    return list(iter_sse_events((FIXTURES / name).read_text().splitlines()))


def translate_stream(
    name: str, *, include_usage: bool = True, json_tool: str | None = None
) -> list[dict[str, Any]]:
    translator = StreamTranslator(
        model=CLIENT_MODEL,
        request_id=REQUEST_ID,
        include_usage=include_usage,
        json_tool=json_tool,
        created=1_700_000_000,
    )
    chunks = []
    for event, data in load_events(name):
        chunks += translator.feed(event, data)
    return chunks


def accumulate(chunks: list[dict[str, Any]]) -> Any:
    """What the openai SDK's own stream helper makes of the chunks."""
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in chunks:
        state.handle_chunk(ChatCompletionChunk.model_validate(chunk))
    return state.get_final_completion()


def user(text: str = "Hello") -> dict[str, Any]:
    return {"role": "user", "content": text}


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}


# ------------------------------------------------------------------ requests


def test_it_translates_a_tool_conversation_into_the_documented_messages_request():
    body = load_json("openai_request_tools.json")

    assert to_anthropic(body, model=MODEL) == load_json("anthropic_request_tools.json")


def test_it_leaves_the_client_request_untouched():
    body = load_json("openai_request_tools.json")
    before = copy.deepcopy(body)

    to_anthropic(body, model=MODEL)

    assert body == before


def test_it_sends_the_documented_headers():
    assert request_headers("sk-ant-test") == {
        "x-api-key": "sk-ant-test",
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
    }


def test_it_always_sends_max_tokens_with_max_completion_tokens_first():
    plain = {"model": "m", "messages": [user()]}
    both = {**plain, "max_tokens": 50, "max_completion_tokens": 70}

    assert to_anthropic(plain, model=MODEL)["max_tokens"] == 4096
    assert to_anthropic(plain, model=MODEL, default_max_tokens=256)["max_tokens"] == 256
    assert to_anthropic({**plain, "max_tokens": 50}, model=MODEL)["max_tokens"] == 50
    assert to_anthropic(both, model=MODEL)["max_tokens"] == 70


def test_a_minimal_request_carries_no_optional_fields():
    assert to_anthropic({"model": "m", "messages": [user()]}, model=MODEL) == {
        "model": MODEL,
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello"}]}],
    }


def test_sampling_options_and_stop_lists_pass_through():
    body = {
        "model": "m",
        "messages": [user()],
        "temperature": 0.7,
        "top_p": 0.9,
        "top_k": 40,
        "stop": ["END", "STOP"],
        "stream": False,
    }

    out = to_anthropic(body, model=MODEL)

    assert out["temperature"] == 0.7
    assert out["top_p"] == 0.9
    assert out["top_k"] == 40
    assert out["stop_sequences"] == ["END", "STOP"]
    assert "stream" not in out


def test_a_temperature_above_anthropics_range_is_clamped_to_its_maximum():
    body = {"model": "m", "messages": [user()], "temperature": 1.6}

    assert to_anthropic(body, model=MODEL)["temperature"] == 1.0


def test_safety_identifier_is_preferred_over_user_for_metadata():
    body = {
        "model": "m",
        "messages": [user()],
        "user": "old-style",
        "safety_identifier": "hashed-42",
    }

    assert to_anthropic(body, model=MODEL)["metadata"] == {"user_id": "hashed-42"}


def test_an_inline_pdf_file_becomes_a_document_block():
    part = {
        "type": "file",
        "file": {
            "filename": "a.pdf",
            "file_data": "data:application/pdf;base64,JVBERi0x",
        },
    }
    body = {"model": "m", "messages": [{"role": "user", "content": [part]}]}

    out = to_anthropic(body, model=MODEL)

    assert out["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {
                "type": "base64",
                "media_type": "application/pdf",
                "data": "JVBERi0x",
            },
        }
    ]


def test_an_assistant_reply_between_user_turns_is_kept_as_text():
    body = {
        "model": "m",
        "messages": [
            user("Hi"),
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "assistant", "content": ""},
            user("Tell me a joke"),
        ],
    }

    assert to_anthropic(body, model=MODEL)["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Hello! How can I help?"}],
        },
        {"role": "user", "content": [{"type": "text", "text": "Tell me a joke"}]},
    ]


@pytest.mark.parametrize(
    ("tool_choice", "expected"),
    [
        ("auto", {"type": "auto"}),
        ("none", {"type": "none"}),
        ("required", {"type": "any"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"type": "tool", "name": "get_weather"},
        ),
    ],
)
def test_tool_choice_maps_to_anthropics(tool_choice, expected):
    body = {
        "model": "m",
        "messages": [user()],
        "tools": [WEATHER_TOOL],
        "tool_choice": tool_choice,
    }

    out = to_anthropic(body, model=MODEL)

    assert out["tool_choice"] == expected
    assert [tool["name"] for tool in out["tools"]] == ["get_weather"]


def test_a_history_with_tool_calls_but_no_tools_still_declares_them():
    body = {
        "model": "m",
        "messages": [
            user("Weather in Paris?"),
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "Sunny"},
        ],
    }

    out = to_anthropic(body, model=MODEL)

    assert [tool["name"] for tool in out["tools"]] == ["get_weather"]
    assert out["tool_choice"] == {"type": "none"}
    assert out["messages"][1]["content"][0]["input"] == {}


def test_json_schema_forces_a_tool_whose_input_schema_is_the_schema():
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "temp_c": {"type": "number"}},
        "required": ["city", "temp_c"],
    }
    body = {
        "model": "m",
        "messages": [{"role": "system", "content": "Be brief."}, user()],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "weather", "schema": schema, "strict": True},
        },
    }

    out = to_anthropic(body, model=MODEL)

    assert json_tool_for(body) == JSON_TOOL
    assert out["tools"] == [
        {
            "name": JSON_TOOL,
            "description": "Give the answer as a JSON object: weather.",
            "input_schema": schema,
        }
    ]
    assert out["tool_choice"] == {"type": "tool", "name": JSON_TOOL}
    assert out["system"].startswith("Be brief.\n\n")
    assert JSON_TOOL in out["system"]


def test_json_object_forces_a_tool_that_takes_any_object():
    body = {
        "model": "m",
        "messages": [user("List three colours as JSON")],
        "response_format": {"type": "json_object"},
    }

    out = to_anthropic(body, model=MODEL)

    assert out["tools"][0]["input_schema"] == {"type": "object"}
    assert out["tool_choice"] == {"type": "tool", "name": JSON_TOOL}


def test_json_mode_with_client_tools_lets_the_model_pick_a_tool_or_answer():
    body = {
        "model": "m",
        "messages": [user()],
        "tools": [WEATHER_TOOL],
        "response_format": {"type": "json_object"},
    }

    out = to_anthropic(body, model=MODEL)

    assert [tool["name"] for tool in out["tools"]] == ["get_weather", JSON_TOOL]
    assert out["tool_choice"] == {"type": "any"}


def test_json_mode_adds_no_tool_when_a_function_call_is_required():
    body = {
        "model": "m",
        "messages": [user()],
        "tools": [WEATHER_TOOL],
        "tool_choice": "required",
        "response_format": {"type": "json_object"},
    }

    out = to_anthropic(body, model=MODEL)

    assert json_tool_for(body) is None
    assert [tool["name"] for tool in out["tools"]] == ["get_weather"]
    assert out["tool_choice"] == {"type": "any"}


@pytest.mark.parametrize(
    ("extra", "param", "code"),
    [
        ({"n": 2}, "n", "unsupported_parameter"),
        ({"logprobs": True}, "logprobs", "unsupported_parameter"),
        ({"top_logprobs": 3}, "top_logprobs", "unsupported_parameter"),
        ({"presence_penalty": 0.5}, "presence_penalty", "unsupported_parameter"),
        ({"logit_bias": {"50256": -100}}, "logit_bias", "unsupported_parameter"),
        ({"audio": {"voice": "alloy"}}, "audio", "unsupported_parameter"),
        ({"functions": [{"name": "f"}]}, "functions", "unsupported_parameter"),
        ({"frobnicate": True}, "frobnicate", "unknown_parameter"),
        ({"temperature": 3}, "temperature", "invalid_value"),
        ({"max_tokens": 0}, "max_tokens", "invalid_value"),
        ({"stop": [1]}, "stop", "invalid_value"),
        (
            {"tool_choice": {"type": "function", "function": {"name": "nope"}}},
            "tool_choice",
            "invalid_value",
        ),
        ({"response_format": {"type": "yaml"}}, "response_format", "invalid_value"),
    ],
)
def test_it_refuses_what_an_anthropic_upstream_cannot_do(extra, param, code):
    body = {"model": "m", "messages": [user()], "tools": [WEATHER_TOOL], **extra}
    before = copy.deepcopy(body)

    with pytest.raises(TranslationError) as caught:
        to_anthropic(body, model=MODEL)

    assert caught.value.status == 400
    error = caught.value.to_openai()["error"]
    assert error["param"] == param
    assert error["code"] == code
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    assert body == before


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([], "messages"),
        ([{"role": "system", "content": "only a system prompt"}], "messages"),
        ([{"role": "function", "name": "f", "content": "x"}], "messages[0].role"),
        ([{"role": "user", "content": ""}], "messages[0].content"),
        (
            [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
            "messages[0].content[0]",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/bmp;base64,Qk0="},
                        }
                    ],
                }
            ],
            "messages[0].content[0].image_url.url",
        ),
        (
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}
                    ],
                }
            ],
            "messages[0].content[0].image_url.url",
        ),
        (
            [
                user(),
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{not json"},
                        }
                    ],
                },
            ],
            "messages[1].tool_calls[0].function.arguments",
        ),
        ([user(), {"role": "tool", "content": "x"}], "messages[1].tool_call_id"),
    ],
)
def test_it_names_the_bad_message_field(messages, param):
    with pytest.raises(TranslationError) as caught:
        to_anthropic({"model": "m", "messages": messages}, model=MODEL)

    assert caught.value.param == param


# ----------------------------------------------------------------- responses


def test_it_translates_a_text_answer_into_a_chat_completion():
    message = load_json("anthropic_message_text.json")

    result = from_anthropic(
        message, model=CLIENT_MODEL, request_id=REQUEST_ID, created=1_700_000_000
    )

    completion = ChatCompletion.model_validate(result)
    assert completion.id == REQUEST_ID
    assert completion.model == CLIENT_MODEL
    assert completion.created == 1_700_000_000
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "Hi! My name is Claude."
    assert completion.choices[0].message.tool_calls is None
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 2095
    assert completion.usage.completion_tokens == 503
    assert completion.usage.total_tokens == 2598


def test_it_translates_a_tool_use_answer_into_tool_calls():
    message = load_json("anthropic_message_tool_use.json")

    result = from_anthropic(message, model=CLIENT_MODEL, request_id=REQUEST_ID)

    choice = ChatCompletion.model_validate(result).choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == (
        "I'll check the current weather in San Francisco for you."
    )
    assert choice.message.tool_calls is not None
    [call] = choice.message.tool_calls
    assert call.id == "toolu_01A09q90qw90lq917835lq9"
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert isinstance(call.function.arguments, str)
    assert json.loads(call.function.arguments) == {
        "location": "San Francisco, CA",
        "unit": "celsius",
    }


def test_prompt_tokens_include_cache_reads_and_writes():
    message = load_json("anthropic_message_cache.json")

    result = from_anthropic(message, model=CLIENT_MODEL, request_id=REQUEST_ID)

    completion = ChatCompletion.model_validate(result)
    assert completion.choices[0].finish_reason == "length"
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens == 21 + 1800 + 188
    assert usage.completion_tokens == 393
    assert usage.total_tokens == 21 + 1800 + 188 + 393
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 1800


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
    ],
)
def test_stop_reasons_map_to_openai_finish_reasons(stop_reason, finish_reason):
    message = {**load_json("anthropic_message_text.json"), "stop_reason": stop_reason}

    result = from_anthropic(message, model=CLIENT_MODEL, request_id=REQUEST_ID)

    assert (
        ChatCompletion.model_validate(result).choices[0].finish_reason == finish_reason
    )


def test_the_json_mode_tool_comes_back_as_message_content():
    message = {
        "id": "msg_01JsonMode",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [
            {
                "type": "tool_use",
                "id": "toolu_01Json",
                "name": JSON_TOOL,
                "input": {"city": "Wellington", "temp_c": 14.5},
            }
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 410, "output_tokens": 31},
    }

    result = from_anthropic(
        message, model=CLIENT_MODEL, request_id=REQUEST_ID, json_tool=JSON_TOOL
    )

    choice = ChatCompletion.model_validate(result).choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.tool_calls is None
    assert json.loads(choice.message.content or "") == {
        "city": "Wellington",
        "temp_c": 14.5,
    }


# ------------------------------------------------------------------- streams


def test_it_streams_a_text_answer_as_chat_completion_chunks():
    chunks = translate_stream("anthropic_stream_text.sse")

    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    texts = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert [t for t in texts if t] == ["Hello", "! Kia ora — nau mai"]
    final = accumulate(chunks)
    assert final.id == REQUEST_ID
    assert final.choices[0].message.content == "Hello! Kia ora — nau mai"
    assert final.choices[0].finish_reason == "stop"
    assert final.usage.prompt_tokens == 25
    assert final.usage.completion_tokens == 15


def test_the_usage_chunk_comes_last_with_no_choices():
    chunks = translate_stream("anthropic_stream_text.sse")

    *body, last = chunks
    assert last["choices"] == []
    assert last["usage"] == {
        "prompt_tokens": 25,
        "completion_tokens": 15,
        "total_tokens": 40,
        "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
    }
    assert all(chunk["usage"] is None for chunk in body)
    assert (
        sum(1 for c in chunks if c["choices"] and c["choices"][0]["finish_reason"]) == 1
    )


def test_without_include_usage_no_chunk_carries_usage():
    chunks = translate_stream("anthropic_stream_text.sse", include_usage=False)

    assert all("usage" not in chunk for chunk in chunks)
    assert all(chunk["choices"] for chunk in chunks)


def test_it_streams_tool_calls_from_input_json_delta_fragments():
    chunks = translate_stream("anthropic_stream_tool_use.sse")

    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
    final = accumulate(chunks)
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == (
        "Okay, let's check the weather for San Francisco, CA:"
    )
    weather, clock = choice.message.tool_calls
    assert weather.id == "toolu_01T1x1fJ34qAmk2tNTrN7Up6"
    assert weather.function.name == "get_weather"
    assert json.loads(weather.function.arguments) == {
        "location": "San Francisco, CA",
        "unit": "fahrenheit",
    }
    assert clock.id == "toolu_01QvZ9mXq3kPjD6vR2yHn8Lc"
    assert clock.function.name == "get_time"
    assert json.loads(clock.function.arguments) == {"timezone": "America/Los_Angeles"}
    assert final.usage.completion_tokens == 89


def test_streamed_tool_calls_name_their_index_and_send_the_id_once():
    chunks = translate_stream("anthropic_stream_tool_use.sse")

    calls = [
        call
        for chunk in chunks
        if chunk["choices"]
        for call in chunk["choices"][0]["delta"].get("tool_calls", [])
    ]
    headers = [call for call in calls if "id" in call]
    assert [(c["index"], c["id"], c["function"]["name"]) for c in headers] == [
        (0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather"),
        (1, "toolu_01QvZ9mXq3kPjD6vR2yHn8Lc", "get_time"),
    ]
    fragments = [c["function"]["arguments"] for c in calls if c["index"] == 0]
    assert fragments[0] == ""  # the header; the empty upstream fragment sends nothing
    assert fragments[1:] == [
        '{"location":',
        ' "San Fra',
        "ncisc",
        "o,",
        ' CA"',
        ", ",
        '"unit": "fah',
        'renheit"}',
    ]


def test_streamed_usage_counts_the_cache_and_the_cumulative_output():
    translator = StreamTranslator(
        model=CLIENT_MODEL, request_id=REQUEST_ID, include_usage=True
    )
    chunks = []
    for event, data in load_events("anthropic_stream_cache.sse"):
        chunks += translator.feed(event, data)

    assert translator.usage() == Usage(
        prompt_tokens=12 + 2048, completion_tokens=7, cached_tokens=2048
    )
    assert translator.finished
    usage = ChatCompletionChunk.model_validate(chunks[-1]).usage
    assert usage is not None
    assert usage.prompt_tokens == 2060
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 2048


def test_a_json_mode_stream_arrives_as_content():
    events = [
        ("message_start", {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": MODEL, "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 40, "output_tokens": 1}}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "toolu_9", "name": JSON_TOOL, "input": {}}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"city": "Wel'}}),
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": 'lington"}'}}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 12}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    translator = StreamTranslator(
        model=CLIENT_MODEL, request_id=REQUEST_ID, json_tool=JSON_TOOL
    )
    chunks = [chunk for event in events for chunk in translator.feed(*event)]

    final = accumulate(chunks)
    assert final.choices[0].finish_reason == "stop"
    assert not final.choices[0].message.tool_calls
    assert json.loads(final.choices[0].message.content) == {"city": "Wellington"}


def test_ping_events_produce_no_chunks():
    translator = StreamTranslator(model=CLIENT_MODEL, request_id=REQUEST_ID)
    translator.feed("message_start", {"type": "message_start", "message": {}})

    assert translator.feed("ping", {"type": "ping"}) == []


def test_an_error_event_raises_the_upstream_message_after_the_text_so_far():
    translator = StreamTranslator(model=CLIENT_MODEL, request_id=REQUEST_ID)
    chunks: list[dict[str, Any]] = []

    with pytest.raises(UpstreamError) as caught:
        for event, data in load_events("anthropic_stream_error.sse"):
            chunks += translator.feed(event, data)

    assert [c["choices"][0]["delta"].get("content") for c in chunks][1:] == ["Partial"]
    assert not translator.finished
    assert caught.value.status == 503
    assert caught.value.to_openai() == {
        "error": {
            "message": "Upstream error: Overloaded",
            "type": "upstream_error",
            "param": None,
            "code": "upstream_overloaded",
        }
    }
    assert translator.usage() == Usage(prompt_tokens=25, completion_tokens=1)


# ----------------------------------------------------------------------- SSE


def test_sse_decoder_reassembles_events_split_anywhere_in_the_bytes():
    raw = (FIXTURES / "anthropic_stream_text.sse").read_bytes()
    expected = load_events("anthropic_stream_text.sse")

    for name, data in (("lf", raw), ("crlf", raw.replace(b"\n", b"\r\n"))):
        decoder = SSEDecoder()
        events = []
        for i in range(len(data)):  # one byte at a time: splits UTF-8 and CRLF
            events += decoder.feed(data[i : i + 1])
        assert events == expected, name


def test_sse_parser_skips_comments_and_takes_the_name_from_the_data_type():
    lines = [": keep-alive", 'data: {"type": "ping"}', "", "event: x", "data: {}", ""]

    assert list(iter_sse_events(lines)) == [("ping", {"type": "ping"}), ("x", {})]


def test_sse_parser_rejects_an_event_that_is_not_json():
    with pytest.raises(UpstreamError) as caught:
        list(iter_sse_events(["event: message_start", "data: <html>", ""]))

    assert caught.value.status == 502


# -------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("status", "kind", "client_status", "openai_type"),
    [
        (400, "invalid_request_error", 400, "invalid_request_error"),
        (401, "authentication_error", 502, "upstream_error"),
        (403, "permission_error", 502, "upstream_error"),
        (404, "not_found_error", 502, "upstream_error"),
        (413, "request_too_large", 413, "invalid_request_error"),
        (429, "rate_limit_error", 429, "rate_limit_error"),
        (500, "api_error", 502, "upstream_error"),
        (529, "overloaded_error", 503, "upstream_error"),
    ],
)
def test_documented_anthropic_errors_map_to_the_openai_shape(
    status, kind, client_status, openai_type
):
    body = {
        "type": "error",
        "error": {"type": kind, "message": "upstream says no"},
        "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
    }

    got_status, error = error_from_anthropic(status, json.dumps(body).encode())

    assert got_status == client_status
    assert set(error) == {"error"}
    assert set(error["error"]) == {"message", "type", "param", "code"}
    assert error["error"]["type"] == openai_type
    assert error["error"]["message"]


def test_a_client_error_passes_the_upstream_message_on():
    body = {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "prompt is too long: 210000 tokens > 200000 maximum",
        },
    }

    status, error = error_from_anthropic(400, body)

    assert status == 400
    assert error["error"]["message"] == (
        "Upstream error: prompt is too long: 210000 tokens > 200000 maximum"
    )


def test_upstream_credential_errors_do_not_look_like_a_bad_gateway_key():
    body = {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    }

    status, error = error_from_anthropic(401, body)

    assert status == 502
    assert "x-api-key" not in error["error"]["message"]
    assert error["error"]["code"] == "upstream_authentication_failed"


def test_an_error_without_a_json_body_maps_by_status():
    status, error = error_from_anthropic(529, b"<html>overloaded</html>")
    assert (status, error["error"]["code"]) == (503, "upstream_overloaded")

    status, error = error_from_anthropic(502, b"Bad Gateway")
    assert (status, error["error"]["code"]) == (502, "upstream_error")
    assert error["error"]["message"] == "The upstream answered HTTP 502."
