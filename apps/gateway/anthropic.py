"""OpenAI chat completions <-> Anthropic Messages, both ways, streaming included.

Pure Python: no Django import and no I/O, so the gateway's hot path can call it
from any event loop and the tests can feed it recorded payloads.

The gateway speaks OpenAI's format to clients and calls an Anthropic upstream at
``POST {base}/v1/messages`` with the headers of :func:`request_headers`:

- :func:`to_anthropic` turns an OpenAI request body into a Messages request, or
  raises :class:`TranslationError` (a 400 in the OpenAI error shape);
- :func:`from_anthropic` turns a Message into a ``chat.completion``;
- :class:`StreamTranslator` turns the Messages stream events into
  ``chat.completion.chunk`` dicts (:class:`SSEDecoder` and
  :func:`iter_sse_events` parse the upstream's server-sent events);
- :func:`error_from_anthropic` maps an upstream error to the OpenAI shape.

JSON mode. The Messages API has no ``response_format``; Anthropic documents tool
use as the way to get JSON that follows a schema ("tools do not necessarily need
to be client functions"), and a forced ``tool_choice`` makes the model answer
with that tool's input and no text around it. So ``json_object`` and
``json_schema`` add a tool named :data:`JSON_TOOL` whose ``input_schema`` is the
schema (``{"type": "object"}`` for ``json_object``), force it, and say so in the
system prompt; on the way back that tool's input becomes the message content.
This holds on every Claude model and in streams, where a system instruction
alone gives no guarantee (code fences, preambles). Pass
:func:`json_tool_for` of the request to the translators on the way back.
"""

from __future__ import annotations

import codecs
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ANTHROPIC_VERSION",
    "DEFAULT_MAX_TOKENS",
    "JSON_TOOL",
    "SSEDecoder",
    "StreamTranslator",
    "TranslationError",
    "UpstreamError",
    "Usage",
    "error_from_anthropic",
    "from_anthropic",
    "iter_sse_events",
    "json_tool_for",
    "request_headers",
    "to_anthropic",
    "usage_from_anthropic",
]

JSON = dict[str, Any]

ANTHROPIC_VERSION = "2023-06-01"
#: Anthropic requires ``max_tokens``; OpenAI clients often leave it out.
DEFAULT_MAX_TOKENS = 4096
#: The tool that carries the answer in JSON mode.
JSON_TOOL = "json_response"

_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+);base64,(.*)$", re.DOTALL)
_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

#: Request fields handled by :func:`to_anthropic`.
_HANDLED = frozenset(
    {
        "model",
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "top_p",
        "top_k",  # not OpenAI's; accepted as the common extension
        "stop",
        "stream",
        "stream_options",  # read by the gateway: Anthropic always reports usage
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
        "user",
        "safety_identifier",
    }
)
#: Hints Anthropic has no counterpart for and whose absence changes no answer:
#: a best-effort seed, OpenAI's own caching, storage and billing options.
_IGNORED = frozenset(
    {
        "seed",
        "metadata",
        "service_tier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
    }
)
#: Fields accepted only at their neutral value (field -> test of the value).
_NEUTRAL: dict[str, Callable[[Any], bool]] = {
    "n": lambda v: v is None or v == 1,
    "logprobs": lambda v: v is None or v is False,
    "top_logprobs": lambda v: v is None or v == 0,
    "logit_bias": lambda v: not v,
    "presence_penalty": lambda v: v is None or v == 0,
    "frequency_penalty": lambda v: v is None or v == 0,
    "store": lambda v: v is None or v is False,
    "modalities": lambda v: v is None or v == ["text"],
    "audio": lambda v: v is None,
    "prediction": lambda v: v is None,
    "reasoning_effort": lambda v: v is None,
    "verbosity": lambda v: v is None,
    "web_search_options": lambda v: v is None,
    "moderation": lambda v: v is None,
    "functions": lambda v: v is None,
    "function_call": lambda v: v is None,
}
_UNSUPPORTED_HINT = {
    "n": "Anthropic upstreams return one choice; send n=1 or leave it out.",
    "functions": "Use 'tools' instead of the deprecated 'functions'.",
    "function_call": "Use 'tool_choice' instead of the deprecated 'function_call'.",
}

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


class TranslationError(ValueError):
    """The request cannot be expressed for an Anthropic upstream (HTTP 400)."""

    status = 400

    def __init__(self, param: str, message: str, *, code: str = "invalid_value"):
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message
        self.code = code

    def to_openai(self) -> JSON:
        return {
            "error": {
                "message": self.message,
                "type": "invalid_request_error",
                "param": self.param,
                "code": self.code,
            }
        }


class UpstreamError(Exception):
    """The upstream reported an error: a status and an OpenAI-shaped body."""

    def __init__(self, status: int, error: JSON):
        super().__init__(error["message"])
        self.status = status
        self.error = error

    def to_openai(self) -> JSON:
        return {"error": dict(self.error)}


@dataclass(frozen=True)
class Usage:
    """Token totals of one request in OpenAI's terms.

    ``prompt_tokens`` includes cache reads and writes, as OpenAI's does;
    ``cached_tokens`` are the cache reads, ``cache_write_tokens`` the writes.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_openai(self) -> JSON:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "prompt_tokens_details": {
                "cached_tokens": self.cached_tokens,
                "cache_write_tokens": self.cache_write_tokens,
            },
        }


def request_headers(api_key: str) -> dict[str, str]:
    """Headers of a Messages request."""
    return {
        "x-api-key": api_key,
        "anthropic-version": ANTHROPIC_VERSION,
        "content-type": "application/json",
    }


# --------------------------------------------------------------------- request


def to_anthropic(
    body: Mapping[str, Any],
    *,
    model: str,
    default_max_tokens: int = DEFAULT_MAX_TOKENS,
) -> JSON:
    """Translate an OpenAI chat completions request into a Messages request."""
    if not isinstance(body, Mapping):
        raise TranslationError("body", "The request body must be a JSON object.")
    _check_fields(body)

    system, messages = _messages(body.get("messages"))
    out: JSON = {"model": model, "max_tokens": _max_tokens(body, default_max_tokens)}

    temperature = _number(body, "temperature", 0, 2)
    if temperature is not None:
        # OpenAI's range is 0-2, Anthropic's 0-1: the top of the range is the
        # most random either side, so clamp rather than refuse.
        out["temperature"] = min(temperature, 1.0)
    top_p = _number(body, "top_p", 0, 1)
    if top_p is not None:
        out["top_p"] = top_p
    top_k = body.get("top_k")
    if top_k is not None:
        if not _is_int(top_k) or top_k < 1:
            raise TranslationError("top_k", "top_k must be a positive integer.")
        out["top_k"] = top_k
    stop = _stop_sequences(body.get("stop"))
    if stop:
        out["stop_sequences"] = stop

    tools, tool_choice, instruction = _tools(body, messages)
    if instruction:
        system.append(instruction)
    if system:
        out["system"] = "\n\n".join(system)
    out["messages"] = messages
    if tools:
        out["tools"] = tools
    if tool_choice:
        out["tool_choice"] = tool_choice

    user = body.get("safety_identifier") or body.get("user")
    if user is not None:
        if not isinstance(user, str):
            raise TranslationError("user", "user must be a string.")
        if user:
            out["metadata"] = {"user_id": user}
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise TranslationError("stream", "stream must be a boolean.")
    if stream:
        out["stream"] = True
    return out


def json_tool_for(body: Mapping[str, Any]) -> str | None:
    """The tool that carries the answer for this request, if JSON mode uses one."""
    if _response_format(body.get("response_format")) is None:
        return None
    choice = body.get("tool_choice")
    if body.get("tools") and (choice == "required" or isinstance(choice, Mapping)):
        return None  # the answer is a tool call anyway
    return JSON_TOOL


def _check_fields(body: Mapping[str, Any]) -> None:
    for field, value in body.items():
        if field in _HANDLED or field in _IGNORED:
            continue
        neutral = _NEUTRAL.get(field)
        if neutral is None:
            raise TranslationError(
                field,
                f"Unrecognized request argument supplied: {field}",
                code="unknown_parameter",
            )
        if not neutral(value):
            raise TranslationError(
                field,
                _UNSUPPORTED_HINT.get(
                    field, f"'{field}' is not supported by this model's upstream."
                ),
                code="unsupported_parameter",
            )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _max_tokens(body: Mapping[str, Any], default: int) -> int:
    for field in ("max_completion_tokens", "max_tokens"):
        value = body.get(field)
        if value is None:
            continue
        if not _is_int(value) or value < 1:
            raise TranslationError(field, f"{field} must be a positive integer.")
        return int(value)
    return default


def _number(
    body: Mapping[str, Any], field: str, low: float, high: float
) -> float | None:
    value = body.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TranslationError(field, f"{field} must be a number.")
    if not low <= value <= high:
        raise TranslationError(field, f"{field} must be between {low} and {high}.")
    return float(value)


def _stop_sequences(stop: Any) -> list[str]:
    if stop is None:
        return []
    items = [stop] if isinstance(stop, str) else stop
    if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
        raise TranslationError("stop", "stop must be a string or a list of strings.")
    return [s for s in items if s]


# --------------------------------------------------------------------- messages


def _messages(raw: Any) -> tuple[list[str], list[JSON]]:
    if not isinstance(raw, list) or not raw:
        raise TranslationError("messages", "messages must be a non-empty list.")
    system: list[str] = []
    turns: list[JSON] = []
    for i, message in enumerate(raw):
        where = f"messages[{i}]"
        if not isinstance(message, Mapping):
            raise TranslationError(where, "Each message must be an object.")
        role = message.get("role")
        if role in ("system", "developer"):
            text = "".join(
                block["text"]
                for block in _content(message.get("content"), where, allow=("text",))
            )
            if text:
                system.append(text)
        elif role == "user":
            blocks = _content(
                message.get("content"), where, allow=("text", "image_url", "file")
            )
            if not blocks:
                raise TranslationError(f"{where}.content", "content must not be empty.")
            _append(turns, "user", blocks)
        elif role == "assistant":
            blocks = _content(message.get("content"), where, allow=("text", "refusal"))
            blocks += _tool_uses(message.get("tool_calls"), where)
            if message.get("function_call") is not None:
                raise TranslationError(
                    f"{where}.function_call",
                    "Use 'tool_calls' instead of the deprecated 'function_call'.",
                    code="unsupported_parameter",
                )
            if blocks:  # some clients echo an empty assistant turn
                _append(turns, "assistant", blocks)
        elif role == "tool":
            _append(turns, "user", [_tool_result(message, where)])
        else:
            raise TranslationError(
                f"{where}.role",
                f"Unsupported role {role!r}: use system, developer, user, assistant "
                "or tool.",
            )
    if not turns:
        raise TranslationError(
            "messages", "messages must contain a user or assistant message."
        )
    return system, turns


def _append(turns: list[JSON], role: str, blocks: list[JSON]) -> None:
    """Add blocks, merging into the previous turn when it has the same role.

    Consecutive tool messages become one user turn, and Anthropic wants a user
    turn's tool results before any other block in it.
    """
    if turns and turns[-1]["role"] == role:
        merged = turns[-1]["content"] + blocks
        turns[-1]["content"] = sorted(
            merged, key=lambda block: block["type"] != "tool_result"
        )
    else:
        turns.append({"role": role, "content": list(blocks)})


def _content(content: Any, where: str, *, allow: tuple[str, ...]) -> list[JSON]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise TranslationError(
            f"{where}.content", "content must be a string or a list of parts."
        )
    blocks: list[JSON] = []
    for j, part in enumerate(content):
        at = f"{where}.content[{j}]"
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind not in allow:
            raise TranslationError(
                at,
                f"Content part type {kind!r} is not supported here "
                f"(allowed: {', '.join(allow)}).",
                code="unsupported_parameter" if kind else "invalid_value",
            )
        if kind in ("text", "refusal"):
            text = part.get(kind)
            if not isinstance(text, str):
                raise TranslationError(f"{at}.{kind}", f"{kind} must be a string.")
            if text:
                blocks.append({"type": "text", "text": text})
        elif kind == "image_url":
            blocks.append(_image(part.get("image_url"), f"{at}.image_url"))
        else:
            blocks.append(_document(part.get("file"), f"{at}.file"))
    return blocks


def _image(image_url: Any, where: str) -> JSON:
    url = image_url.get("url") if isinstance(image_url, Mapping) else None
    if not isinstance(url, str) or not url:
        raise TranslationError(f"{where}.url", "image_url.url must be a URL.")
    if url.startswith("data:"):
        match = _DATA_URL.match(url)
        if match is None:
            raise TranslationError(
                f"{where}.url", "A data URL must be base64: data:<type>;base64,<data>."
            )
        media_type = match.group(1).lower()
        if media_type not in _IMAGE_TYPES:
            raise TranslationError(
                f"{where}.url",
                f"Image type {media_type} is not supported: use JPEG, PNG, GIF or "
                "WebP.",
            )
        source = {"type": "base64", "media_type": media_type, "data": match.group(2)}
        return {"type": "image", "source": source}
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise TranslationError(
        f"{where}.url", "image_url.url must be an http(s) URL or a base64 data URL."
    )


def _document(file: Any, where: str) -> JSON:
    data = file.get("file_data") if isinstance(file, Mapping) else None
    match = _DATA_URL.match(data) if isinstance(data, str) else None
    if match is None or match.group(1).lower() != "application/pdf":
        raise TranslationError(
            where,
            "Only PDF files given inline as file_data "
            "(data:application/pdf;base64,...) are supported.",
            code="unsupported_parameter",
        )
    source = {"type": "base64", "media_type": "application/pdf", "data": match.group(2)}
    return {"type": "document", "source": source}


def _tool_uses(tool_calls: Any, where: str) -> list[JSON]:
    if tool_calls is None:
        return []
    if not isinstance(tool_calls, list):
        raise TranslationError(f"{where}.tool_calls", "tool_calls must be a list.")
    blocks = []
    for j, call in enumerate(tool_calls):
        at = f"{where}.tool_calls[{j}]"
        if not isinstance(call, Mapping) or call.get("type", "function") != "function":
            raise TranslationError(
                at,
                "Only function tool calls are supported.",
                code="unsupported_parameter",
            )
        function = call.get("function")
        call_id = call.get("id")
        if not isinstance(function, Mapping) or not isinstance(call_id, str):
            raise TranslationError(at, "A tool call needs an id and a function.")
        arguments = function.get("arguments") or "{}"
        try:
            tool_input = json.loads(arguments)
        except (TypeError, ValueError):
            tool_input = None
        if not isinstance(tool_input, dict):
            raise TranslationError(
                f"{at}.function.arguments",
                "arguments must be a JSON object encoded as a string.",
            )
        blocks.append(
            {
                "type": "tool_use",
                "id": call_id,
                "name": function.get("name"),
                "input": tool_input,
            }
        )
    return blocks


def _tool_result(message: Mapping[str, Any], where: str) -> JSON:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise TranslationError(
            f"{where}.tool_call_id", "A tool message needs its tool_call_id."
        )
    block: JSON = {"type": "tool_result", "tool_use_id": call_id}
    raw = message.get("content")
    content = _content(raw, where, allow=("text",))
    if content:
        block["content"] = raw if isinstance(raw, str) else content
    return block


# ------------------------------------------------------------------------ tools


def _tools(
    body: Mapping[str, Any], messages: list[JSON]
) -> tuple[list[JSON], JSON | None, str | None]:
    """Tools, tool_choice and a system instruction, JSON mode included."""
    tools = _function_tools(body.get("tools"))
    names = {tool["name"] for tool in tools}
    choice = _tool_choice(body.get("tool_choice"), names)
    fmt = _response_format(body.get("response_format"))
    json_tool = json_tool_for(body)
    instruction = None

    if json_tool is not None and fmt is not None:
        if json_tool in names:
            raise TranslationError(
                "tools",
                f"The tool name {json_tool!r} is reserved for JSON mode on this "
                "model's upstream.",
            )
        schema, description = fmt
        tools.append(
            {"name": json_tool, "description": description, "input_schema": schema}
        )
        if names and choice is not None and choice["type"] == "auto":
            # The model may still call the client's tools; its answer, when it
            # gives one, must go through the JSON tool.
            choice = {"type": "any"}
            instruction = (
                f"Give your final answer by calling the {json_tool} tool; its "
                "input is the whole answer."
            )
        else:
            choice = {"type": "tool", "name": json_tool}
            instruction = (
                f"Answer by calling the {json_tool} tool; its input is the whole "
                "answer as a JSON object."
            )
    elif not tools:
        # Anthropic refuses tool_use blocks in the history without tool
        # definitions; OpenAI allows them once the client stops sending tools.
        used = _history_tool_names(messages)
        if used:
            tools = [
                {
                    "name": name,
                    "description": "Called earlier in this conversation.",
                    "input_schema": {"type": "object"},
                }
                for name in used
            ]
            return tools, {"type": "none"}, None
        return [], None, None

    parallel = body.get("parallel_tool_calls")
    if choice is not None and choice["type"] != "none" and parallel is False:
        choice["disable_parallel_tool_use"] = True
    return tools, choice, instruction


def _function_tools(raw: Any) -> list[JSON]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise TranslationError("tools", "tools must be a list.")
    tools = []
    for i, tool in enumerate(raw):
        at = f"tools[{i}]"
        if not isinstance(tool, Mapping) or tool.get("type") != "function":
            raise TranslationError(
                at, "Only function tools are supported.", code="unsupported_parameter"
            )
        function = tool.get("function")
        if not isinstance(function, Mapping):
            raise TranslationError(f"{at}.function", "A tool needs a function.")
        name = function.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            raise TranslationError(
                f"{at}.function.name",
                "A function name must be 1-64 letters, digits, '_' or '-'.",
            )
        schema = function.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(schema, Mapping) or schema.get("type", "object") != "object":
            raise TranslationError(
                f"{at}.function.parameters",
                "parameters must be a JSON Schema of type object.",
            )
        out: JSON = {"name": name, "input_schema": dict(schema)}
        if function.get("description"):
            out["description"] = function["description"]
        tools.append(out)
    return tools


def _tool_choice(raw: Any, names: set[str]) -> JSON | None:
    if raw is None:
        return {"type": "auto"} if names else None
    if raw in ("auto", "none", "required"):
        if not names:
            return None
        return {"type": {"auto": "auto", "none": "none", "required": "any"}[raw]}
    if isinstance(raw, Mapping) and raw.get("type") == "function":
        function = raw.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        if name not in names:
            raise TranslationError(
                "tool_choice", f"tool_choice names a function not in tools: {name!r}."
            )
        return {"type": "tool", "name": name}
    raise TranslationError(
        "tool_choice",
        "tool_choice must be 'auto', 'none', 'required' or "
        '{"type": "function", "function": {"name": ...}}.',
        code="unsupported_parameter",
    )


def _response_format(raw: Any) -> tuple[JSON, str] | None:
    """The JSON mode schema and tool description, or None for plain text."""
    if raw is None:
        return None
    kind = raw.get("type") if isinstance(raw, Mapping) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "object"}, "Give the answer as a JSON object."
    if kind == "json_schema":
        spec = raw.get("json_schema") if isinstance(raw, Mapping) else None
        if not isinstance(spec, Mapping):
            raise TranslationError(
                "response_format.json_schema", "json_schema must be an object."
            )
        schema = spec.get("schema") or {"type": "object"}
        if not isinstance(schema, Mapping) or schema.get("type", "object") != "object":
            raise TranslationError(
                "response_format.json_schema.schema",
                "The schema must be a JSON Schema of type object.",
            )
        description = f"Give the answer as a JSON object: {spec.get('name', 'answer')}."
        if spec.get("description"):
            description += f" {spec['description']}"
        return dict(schema), description
    raise TranslationError(
        "response_format",
        "response_format.type must be text, json_object or json_schema.",
    )


def _history_tool_names(messages: list[JSON]) -> list[str]:
    names: dict[str, None] = {}
    for turn in messages:
        for block in turn["content"]:
            if block["type"] == "tool_use" and isinstance(block["name"], str):
                names[block["name"]] = None
    return list(names)


# --------------------------------------------------------------------- response


def usage_from_anthropic(usage: Mapping[str, Any] | None) -> Usage:
    """OpenAI usage from an Anthropic ``usage`` object.

    Anthropic's ``input_tokens`` excludes the cache: the prompt is input plus
    cache reads plus cache writes.
    """
    usage = usage or {}
    writes = usage.get("cache_creation_input_tokens")
    if writes is None:  # only the split by TTL was given
        split = usage.get("cache_creation") or {}
        writes = sum(v for v in split.values() if _is_int(v))
    reads = usage.get("cache_read_input_tokens") or 0
    return Usage(
        prompt_tokens=(usage.get("input_tokens") or 0) + reads + writes,
        completion_tokens=usage.get("output_tokens") or 0,
        cached_tokens=reads,
        cache_write_tokens=writes,
    )


def from_anthropic(
    message: Mapping[str, Any],
    *,
    model: str,
    request_id: str,
    json_tool: str | None = None,
    created: int | None = None,
) -> JSON:
    """Translate a Message into an OpenAI ``chat.completion``."""
    if message.get("type") == "error":
        raise _upstream_error(message)
    text: list[str] = []
    answer: str | None = None
    tool_calls = []
    for block in message.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            text.append(block.get("text", ""))
        elif kind == "tool_use" and block.get("name") == json_tool:
            answer = json.dumps(block.get("input") or {}, ensure_ascii=False)
        elif kind == "tool_use":
            tool_calls.append(
                {
                    "id": block["id"],
                    "type": "function",
                    "function": {
                        "name": block["name"],
                        "arguments": json.dumps(
                            block.get("input") or {}, ensure_ascii=False
                        ),
                    },
                }
            )
        # thinking and server-tool blocks have no place in a chat completion
    content = answer if answer is not None else ("".join(text) or None)
    reply: JSON = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        reply["tool_calls"] = tool_calls
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": reply,
                "logprobs": None,
                "finish_reason": _finish_reason(
                    message.get("stop_reason"), bool(tool_calls)
                ),
            }
        ],
        "usage": usage_from_anthropic(message.get("usage")).to_openai(),
    }


def _finish_reason(stop_reason: Any, tool_calls: bool) -> str:
    reason = (
        _FINISH.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"
    )
    if reason == "tool_calls" and not tool_calls:
        return "stop"  # only the JSON mode tool was called
    return reason


# ----------------------------------------------------------------------- stream


@dataclass
class _Block:
    kind: str  # text | tool | json | other
    tool_index: int = -1
    input: Any = None
    streamed: bool = False


class StreamTranslator:
    """Turns Messages stream events into ``chat.completion.chunk`` dicts.

    Feed each ``(event, data)`` in order; each call returns the chunks to send
    (often none). With ``include_usage`` every chunk has ``"usage": null`` and
    ``message_stop`` adds a last chunk with ``choices: []`` and the totals, as
    OpenAI does for ``stream_options.include_usage``. An ``error`` event raises
    :class:`UpstreamError`. :meth:`usage` gives the totals seen so far.
    """

    def __init__(
        self,
        *,
        model: str,
        request_id: str,
        include_usage: bool = False,
        json_tool: str | None = None,
        created: int | None = None,
    ):
        self.model = model
        self.request_id = request_id
        self.include_usage = include_usage
        self.json_tool = json_tool
        self.created = int(time.time()) if created is None else created
        self.finished = False
        self._started = False
        self._finish_sent = False
        self._blocks: dict[int, _Block] = {}
        self._tool_calls = 0
        self._usage: JSON = {}

    def usage(self) -> Usage:
        return usage_from_anthropic(self._usage)

    def feed(self, event: str, data: Mapping[str, Any]) -> list[JSON]:
        kind = data.get("type", event)
        if kind == "ping":
            return []
        if kind == "error":
            raise _upstream_error(data)
        chunks = [] if self._started else [self._start()]
        if kind == "message_start":
            self._merge_usage((data.get("message") or {}).get("usage"))
        elif kind == "content_block_start":
            block = data.get("content_block") or {}
            chunks += self._block_start(data.get("index", 0), block)
        elif kind == "content_block_delta":
            chunks += self._block_delta(data.get("index", 0), data.get("delta") or {})
        elif kind == "content_block_stop":
            chunks += self._block_stop(data.get("index", 0))
        elif kind == "message_delta":
            self._merge_usage(data.get("usage"))
            stop_reason = (data.get("delta") or {}).get("stop_reason")
            if stop_reason is not None and not self._finish_sent:
                self._finish_sent = True
                reason = _finish_reason(stop_reason, self._tool_calls > 0)
                chunks.append(self._chunk({}, reason))
        elif kind == "message_stop":
            self.finished = True
            if not self._finish_sent:
                self._finish_sent = True
                chunks.append(self._chunk({}, "stop"))
            if self.include_usage:
                chunks.append(self._usage_chunk())
        # Unknown events are skipped: Anthropic may add event types.
        return chunks

    def _start(self) -> JSON:
        self._started = True
        return self._chunk({"role": "assistant", "content": "", "refusal": None})

    def _merge_usage(self, usage: Any) -> None:
        # message_delta usage is cumulative: later values replace earlier ones
        if isinstance(usage, Mapping):
            self._usage.update({k: v for k, v in usage.items() if v is not None})

    def _block_start(self, index: int, block: Mapping[str, Any]) -> list[JSON]:
        kind = block.get("type")
        if kind == "text":
            self._blocks[index] = _Block("text")
            text = block.get("text")
            return [self._chunk({"content": text})] if text else []
        if kind == "tool_use" and block.get("name") == self.json_tool:
            self._blocks[index] = _Block("json", input=block.get("input"))
            return []
        if kind == "tool_use":
            tool = _Block("tool", self._tool_calls, input=block.get("input"))
            self._blocks[index] = tool
            self._tool_calls += 1
            call = {
                "index": tool.tool_index,
                "id": block.get("id") or f"call_{tool.tool_index}",
                "type": "function",
                "function": {"name": block.get("name") or "", "arguments": ""},
            }
            return [self._chunk({"tool_calls": [call]})]
        self._blocks[index] = _Block("other")  # thinking, server tools
        return []

    def _block_delta(self, index: int, delta: Mapping[str, Any]) -> list[JSON]:
        block = self._blocks.get(index)
        kind = delta.get("type")
        if block is None:
            return []
        if kind == "text_delta" and block.kind == "text":
            text = delta.get("text")
            return [self._chunk({"content": text})] if text else []
        if kind == "input_json_delta" and block.kind in ("tool", "json"):
            fragment = delta.get("partial_json")
            if not fragment:
                return []
            block.streamed = True
            return [self._arguments(block, fragment)]
        return []  # thinking, signature and citation deltas

    def _block_stop(self, index: int) -> list[JSON]:
        block = self._blocks.get(index)
        if block is None or block.kind not in ("tool", "json") or block.streamed:
            return []
        # A tool_use whose input came whole in content_block_start (or empty).
        return [self._arguments(block, json.dumps(block.input or {}))]

    def _arguments(self, block: _Block, fragment: str) -> JSON:
        if block.kind == "json":
            return self._chunk({"content": fragment})
        call = {"index": block.tool_index, "function": {"arguments": fragment}}
        return self._chunk({"tool_calls": [call]})

    def _chunk(self, delta: JSON, finish_reason: str | None = None) -> JSON:
        chunk: JSON = {
            "id": self.request_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "delta": delta,
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
            ],
        }
        if self.include_usage:
            chunk["usage"] = None
        return chunk

    def _usage_chunk(self) -> JSON:
        return {
            "id": self.request_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": self.usage().to_openai(),
        }


# -------------------------------------------------------------------------- SSE


class SSEDecoder:
    """Incremental server-sent events parser for raw upstream bytes.

    ``feed`` takes chunks as they arrive (split anywhere, even inside a UTF-8
    character or a CRLF) and returns the complete ``(event, data)`` pairs.
    """

    def __init__(self) -> None:
        self._text = codecs.getincrementaldecoder("utf-8")()
        self._buffer = ""
        self._lines = _LineParser()

    def feed(self, chunk: bytes | str) -> list[tuple[str, JSON]]:
        text = self._text.decode(chunk) if isinstance(chunk, bytes) else chunk
        text = self._buffer + text
        # A trailing CR may be the first half of a CRLF: wait for the next byte.
        held = "\r" if text.endswith("\r") else ""
        text = text.removesuffix(held)
        *lines, rest = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._buffer = rest + held
        events = []
        for line in lines:
            event = self._lines.line(line)
            if event is not None:
                events.append(event)
        return events


def iter_sse_events(lines: Iterable[str | bytes]) -> Iterator[tuple[str, JSON]]:
    """``(event, data)`` pairs from SSE lines (as ``httpx`` ``iter_lines`` gives).

    The event name falls back to the data's ``type``. A pending event without
    its closing blank line at the end is dropped, as the SSE spec says.
    """
    parser = _LineParser()
    for raw in lines:
        line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        event = parser.line(line.rstrip("\r\n"))
        if event is not None:
            yield event


class _LineParser:
    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []

    def line(self, line: str) -> tuple[str, JSON] | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # comment
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        return None

    def _dispatch(self) -> tuple[str, JSON] | None:
        event, data = self._event, self._data
        self._event, self._data = "", []
        if not data:
            return None
        try:
            payload = json.loads("\n".join(data))
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise UpstreamError(
                502,
                _error(
                    "The upstream sent a stream event that is not a JSON object.",
                    "upstream_error",
                    "upstream_bad_response",
                ),
            )
        return event or str(payload.get("type", "message")), payload


# ----------------------------------------------------------------------- errors

#: Anthropic error type -> (status for the client, OpenAI type, code, message).
#: A message of None passes the upstream's message on. Credential, billing and
#: not-found errors are the gateway's configuration, not the client's doing.
_ERRORS: dict[str, tuple[int, str, str | None, str | None]] = {
    "invalid_request_error": (400, "invalid_request_error", None, None),
    "request_too_large": (
        413,
        "invalid_request_error",
        "request_too_large",
        None,
    ),
    "authentication_error": (
        502,
        "upstream_error",
        "upstream_authentication_failed",
        "The upstream rejected the gateway's credentials.",
    ),
    "permission_error": (
        502,
        "upstream_error",
        "upstream_permission_denied",
        "The gateway's upstream credentials may not use this model.",
    ),
    "billing_error": (
        502,
        "upstream_error",
        "upstream_billing_error",
        "The upstream account has a billing problem.",
    ),
    "not_found_error": (
        502,
        "upstream_error",
        "upstream_not_found",
        "The upstream does not know the routed model.",
    ),
    "rate_limit_error": (429, "rate_limit_error", "rate_limit_exceeded", None),
    "api_error": (502, "upstream_error", "upstream_error", None),
    "overloaded_error": (503, "upstream_error", "upstream_overloaded", None),
    "timeout_error": (504, "upstream_error", "upstream_timeout", None),
}
#: Anthropic's documented statuses, for bodies without a recognised type.
_STATUS_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_TYPE_STATUS = {kind: status for status, kind in _STATUS_TYPES.items()}


def error_from_anthropic(status: int, body: Any) -> tuple[int, JSON]:
    """Map an Anthropic error response to ``(status, OpenAI error body)``.

    ``body`` may be the parsed JSON, raw bytes or text, or None.
    """
    payload = body
    if isinstance(body, bytes | str):
        try:
            payload = json.loads(body)
        except ValueError:
            payload = None
    error = payload.get("error") if isinstance(payload, Mapping) else None
    kind = error.get("type") if isinstance(error, Mapping) else None
    upstream_message = error.get("message") if isinstance(error, Mapping) else None
    if kind not in _ERRORS:
        kind = _STATUS_TYPES.get(status, "api_error")
    client_status, openai_type, code, message = _ERRORS[kind]
    if message is None:
        message = (
            f"Upstream error: {upstream_message}"
            if isinstance(upstream_message, str) and upstream_message
            else f"The upstream answered HTTP {status}."
        )
    return client_status, {"error": _error(message, openai_type, code)}


def _error(message: str, kind: str, code: str | None) -> JSON:
    return {"message": message, "type": kind, "param": None, "code": code}


def _upstream_error(payload: Mapping[str, Any]) -> UpstreamError:
    """The error of an ``error`` event (the stream had already answered 200)."""
    error = payload.get("error")
    kind = error.get("type") if isinstance(error, Mapping) else None
    status, body = error_from_anthropic(_TYPE_STATUS.get(str(kind), 500), payload)
    return UpstreamError(status, body["error"])
