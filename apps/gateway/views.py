"""The gateway: ``POST /gateway/v1/chat/completions`` and ``GET /gateway/v1/models``.

Every request, in order (DESIGN §9, docs/gateway.md): the key (401), the
use-case's status (403), the body (400 / 413), the model — a workload, ``auto``
or an approved model (403), the key's limits and the budgets (429), then the
route: targets by weight, fallback after, never an external endpoint for data
that must stay in-house (503 when no eligible target is healthy). Failures before
the first byte (connect, timeout, 429, 5xx) move on to the next target; nothing
is retried once bytes reached the client. Usage is metered off the request path
(:mod:`apps.gateway.metering`).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.views.decorators.csrf import csrf_exempt

from apps.core.http import make_async_client
from apps.endpoints.collectors.base import api_root, openai_api_base
from apps.gateway import anthropic, limits, metering, snapshot
from apps.gateway.errors import GatewayError
from apps.gateway.models import GatewayKey
from apps.gateway.snapshot import KeySnapshot, Route, Target

RETRYABLE = {429, 500, 502, 503, 504}
_USAGE = re.compile(rb'"usage":\s*\{')
_rng = random.Random()
_cooldown: dict[int, tuple[int, float]] = {}  # endpoint id -> (failures, until)
_clients: dict[int, httpx.AsyncClient] = {}


def seed_routing(seed: int) -> None:
    """Make weighted choices repeatable (tests, benchmarks)."""
    _rng.seed(seed)


def _client() -> httpx.AsyncClient:
    loop = id(asyncio.get_running_loop())
    client = _clients.get(loop)
    if client is None:
        timeout = httpx.Timeout(
            settings.GATEWAY_UPSTREAM_TIMEOUT_SECONDS,
            connect=settings.GATEWAY_CONNECT_TIMEOUT_SECONDS,
        )
        client = _clients[loop] = make_async_client(
            timeout=timeout,
            allowed_networks=settings.ENDPOINT_ALLOWED_NETWORKS,
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200),
        )
    return client


@dataclass(slots=True)
class Call:
    """One request as it goes through the gateway."""

    id: str
    started: float
    snapshot: KeySnapshot | None = None
    workload: str = ""
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    def overhead_ms(self, upstream_seconds: float) -> str:
        total = time.perf_counter() - self.started
        return f"{max(total - upstream_seconds, 0) * 1000:.1f}"


@csrf_exempt
async def chat_completions(request: HttpRequest) -> HttpResponse:
    call = Call(id=f"gw-{uuid.uuid4().hex}", started=time.perf_counter())
    try:
        if request.method != "POST":
            raise GatewayError(405, "Use POST.", code="method_not_allowed")
        call.snapshot = await _authenticate(request)
        _check_served(call.snapshot)
        call.body = _parse(request)
        route = _resolve(call, call.snapshot, call.body["model"])
        limits.check_and_count_request(call.snapshot)
        call.headers.update(await _check_budgets(call.snapshot))
        return await _forward(call, route)
    except GatewayError as error:
        return _refuse(call, error)


def _refuse(call: Call, error: GatewayError) -> HttpResponse:
    key = call.snapshot
    if error.audit:
        metering.refused(
            key_id=key.key_id if key else None,
            use_case_id=key.use_case_id if key else None,
            code=error.code,
            message=error.message,
        )
    if key is not None and key.log_requests:
        metering.record(_entry(call, status=error.status, code=error.code))
    return error.response({"x-request-id": call.id, **call.headers})


@csrf_exempt
async def models(request: HttpRequest) -> HttpResponse:
    call = Call(id=f"gw-{uuid.uuid4().hex}", started=time.perf_counter())
    try:
        call.snapshot = await _authenticate(request)
        _check_served(call.snapshot)
    except GatewayError as error:
        return _refuse(call, error)
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": "portal"}
        for name in call.snapshot.model_names()
    ]
    return HttpResponse(
        json.dumps({"object": "list", "data": data}), content_type="application/json"
    )


# Checks.


async def _authenticate(request: HttpRequest) -> KeySnapshot:
    header = request.headers.get("authorization", "")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise GatewayError(
            401,
            "No API key: send 'Authorization: Bearer <gateway key>' (issued on the "
            "use-case's page).",
            code="invalid_api_key",
        )
    if not secret.startswith(GatewayKey.PREFIX) or len(secret) > 200:
        raise GatewayError(
            401, "This is not a gateway key.", code="invalid_api_key", audit=False
        )
    key_hash = GatewayKey.hash_key(secret)
    known, found = snapshot.cached_key(key_hash)
    if not known:
        found = await sync_to_async(snapshot.load_key)(key_hash)
    if found is None or (
        found.expires_at is not None and found.expires_at.timestamp() <= time.time()
    ):
        raise GatewayError(
            401,
            "Unknown, revoked or expired gateway key.",
            code="invalid_api_key",
            audit=False,
        )
    return found


def _check_served(key: KeySnapshot) -> None:
    if not key.served:
        raise GatewayError(
            403,
            f"Use-case “{key.use_case_title}” is {key.status.replace('_', ' ')}; only "
            "approved or live use-cases get gateway traffic.",
            code="use_case_not_approved",
        )


def _parse(request: HttpRequest) -> dict[str, Any]:
    limit = int(settings.GATEWAY_MAX_BODY_BYTES)
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise GatewayError(
            413, f"The body is over {limit:,} bytes.", code="request_too_large"
        )
    raw = request.body
    if len(raw) > limit:
        raise GatewayError(
            413, f"The body is over {limit:,} bytes.", code="request_too_large"
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise GatewayError(
            400, "The body is not valid JSON.", code="invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise GatewayError(400, "The body must be a JSON object.", code="invalid_body")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise GatewayError(
            400,
            "'messages' is required: a non-empty list of chat messages.",
            code="missing_required_parameter",
            param="messages",
        )
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise GatewayError(
            400,
            "'model' is required: a workload of the use-case, 'auto', or an "
            "approved model.",
            code="missing_required_parameter",
            param="model",
        )
    return body


def _resolve(call: Call, key: KeySnapshot, name: str) -> Route:
    if not key.routes:
        raise GatewayError(
            403,
            f"Use-case “{key.use_case_title}” has no gateway routes: the board "
            "approved it without any.",
            code="no_routes",
        )
    route: Route | None = None
    if name == "auto":
        for workload in key.workloads:
            if workload in key.routes:
                route = key.routes[workload]
                break
        route = route or next(iter(key.routes.values()))
    elif name in key.routes:
        route = key.routes[name]
    else:
        for candidate in key.routes.values():
            targets = tuple(t for t in candidate.targets if t.model == name)
            fallback = tuple(t for t in candidate.fallback if t.model == name)
            if targets or fallback:
                route = Route(candidate.workload, targets, fallback)
                break
    if route is None:
        allowed = ", ".join(key.model_names())
        raise GatewayError(
            403,
            f"Model '{name}' is not approved for this use-case. Use one of: {allowed}.",
            code="model_not_allowed",
            param="model",
        )
    call.workload = route.workload
    return route


async def _check_budgets(key: KeySnapshot) -> dict[str, str]:
    headers: dict[str, str] = {}
    for rule in key.budgets:
        owner = key.use_case_id if rule.scope == "use_case" else key.team_id
        if owner is None:
            continue
        spent, fresh = snapshot.cached_spend(rule.scope, owner)
        if spent is None:
            spent = await sync_to_async(snapshot.load_month_to_date)(rule.scope, owner)
        elif not fresh:
            asyncio.get_running_loop().create_task(
                sync_to_async(snapshot.load_month_to_date)(rule.scope, owner)
            )
        if spent < rule.amount:
            continue
        message = (
            f"Month-to-date spend of {spent:,.2f} USD has reached the {rule.name}."
        )
        if rule.hard:
            raise GatewayError(
                429,
                message + " Requests are refused until next month or a higher budget.",
                code="budget_exceeded",
            )
        headers["x-portal-budget-warning"] = message
    return headers


# Forwarding.


class _TryNext(Exception):
    """This target failed before any byte reached the client."""


def _eligible(key: KeySnapshot, route: Route) -> list[Target]:
    now = time.monotonic()
    targets = []
    for target in route.order(_rng):
        upstream = target.upstream
        if key.must_stay and not upstream.in_house:
            continue  # fail closed, whatever the routes say
        if upstream.failing:
            continue
        _, until = _cooldown.get(upstream.id, (0, 0.0))
        if until > now:
            continue
        if target not in targets:
            targets.append(target)
    if not targets:
        if key.must_stay:
            raise GatewayError(
                503,
                "No healthy in-house target for this request. This use-case's data "
                "must stay in our infrastructure, so no external endpoint is tried.",
                code="no_healthy_in_house_target",
            )
        raise GatewayError(
            503, "No healthy target for this request.", code="no_eligible_target"
        )
    return targets[: int(settings.GATEWAY_MAX_ATTEMPTS)]


def _failed(target: Target) -> None:
    failures, _ = _cooldown.get(target.upstream.id, (0, 0.0))
    failures += 1
    until = 0.0
    if failures >= int(settings.GATEWAY_COOLDOWN_AFTER):
        until = time.monotonic() + float(settings.GATEWAY_COOLDOWN_SECONDS)
    _cooldown[target.upstream.id] = (failures, until)


def _succeeded(target: Target) -> None:
    _cooldown.pop(target.upstream.id, None)


async def _forward(call: Call, route: Route) -> HttpResponse:
    assert call.snapshot is not None
    targets = _eligible(call.snapshot, route)
    last = "every target failed"
    for attempt, target in enumerate(targets):
        if attempt:
            await asyncio.sleep(0.05 * 2 ** (attempt - 1))
        try:
            if target.upstream.kind == "anthropic":
                return await _send_anthropic(call, target)
            return await _send_openai(call, target)
        except _TryNext as failure:
            _failed(target)
            last = str(failure)
    raise GatewayError(
        502 if "HTTP" in last else 504 if "timed out" in last else 503,
        f"No target answered: {last}.",
        code="upstream_unavailable",
    )


async def _open(request: httpx.Request, target: Target) -> tuple[httpx.Response, float]:
    sent = time.perf_counter()
    try:
        response = await _client().send(request, stream=True)
    except httpx.TimeoutException:
        raise _TryNext(f"{target.upstream.name} timed out") from None
    except httpx.TransportError as exc:
        raise _TryNext(
            f"{target.upstream.name} could not be reached ({type(exc).__name__})"
        ) from None
    except Exception as exc:  # the SSRF guard's refusal among them
        raise _TryNext(f"{target.upstream.name} refused: {exc}") from None
    if response.status_code in RETRYABLE:
        await response.aclose()
        raise _TryNext(f"{target.upstream.name} answered HTTP {response.status_code}")
    return response, sent


def _route_headers(
    call: Call, target: Target, upstream_seconds: float
) -> dict[str, str]:
    return {
        "x-portal-route": f"{target.upstream.id}/{target.model}",
        "x-portal-overhead-ms": call.overhead_ms(upstream_seconds),
        "x-request-id": call.id,
        **call.headers,
    }


def _routed(
    answer: HttpResponse, call: Call, target: Target, upstream_seconds: float
) -> HttpResponse:
    for name, value in _route_headers(call, target, upstream_seconds).items():
        answer[name] = value
    return answer


def _stream_answer(
    chunks: AsyncIterator[bytes], call: Call, target: Target, sent: float
) -> HttpResponse:
    answer = StreamingHttpResponse(chunks, content_type="text/event-stream")
    answer["cache-control"] = "no-cache"
    return _routed(answer, call, target, time.perf_counter() - sent)


async def _upstream_error(
    call: Call, target: Target, response: httpx.Response, sent: float
) -> HttpResponse:
    """A 4xx from the upstream other than 429: the client's to fix; passed on."""
    body = await response.aread()
    await response.aclose()
    if target.upstream.kind == "anthropic":
        status, payload = anthropic.error_from_anthropic(response.status_code, body)
    else:
        status = response.status_code
        try:
            payload = json.loads(body)
            if not isinstance(payload, dict) or "error" not in payload:
                raise ValueError
        except ValueError:
            payload = GatewayError(
                status,
                f"The upstream refused the request (HTTP {status}).",
                code="upstream_error",
            ).body()
    _succeeded(target)
    upstream_seconds = time.perf_counter() - sent
    if call.snapshot and call.snapshot.log_requests:
        metering.record(
            _entry(call, target=target, status=status, code="upstream_error")
        )
    answer = HttpResponse(
        json.dumps(payload), status=status, content_type="application/json"
    )
    return _routed(answer, call, target, upstream_seconds)


async def _send_openai(call: Call, target: Target) -> HttpResponse:
    upstream = target.upstream
    payload = dict(call.body)
    payload["model"] = target.model
    stream = bool(payload.get("stream"))
    wants_usage = False
    if stream:
        options = dict(payload.get("stream_options") or {})
        wants_usage = bool(options.get("include_usage"))
        options["include_usage"] = True  # metering needs it
        payload["stream_options"] = options
    headers = {"content-type": "application/json"}
    if upstream.api_key:
        headers["authorization"] = f"Bearer {upstream.api_key}"
    request = _client().build_request(
        "POST",
        f"{openai_api_base(upstream.base_url)}/chat/completions",
        content=json.dumps(payload).encode(),
        headers=headers,
    )
    response, sent = await _open(request, target)
    if response.status_code >= 400:
        return await _upstream_error(call, target, response, sent)
    _succeeded(target)
    if stream and "text/event-stream" in response.headers.get("content-type", ""):
        meter = _StreamMeter(call, target, wants_usage)
        return _stream_answer(meter.relay(response), call, target, sent)
    body = await response.aread()
    await response.aclose()
    upstream_seconds = time.perf_counter() - sent
    usage = _usage_of(body)
    _finish(call, target, usage)
    answer = HttpResponse(body, content_type="application/json")
    return _routed(answer, call, target, upstream_seconds)


async def _send_anthropic(call: Call, target: Target) -> HttpResponse:
    upstream = target.upstream
    try:
        payload = anthropic.to_anthropic(call.body, model=target.model)
    except anthropic.TranslationError as exc:
        raise GatewayError(400, exc.message, code=exc.code, param=exc.param) from None
    json_tool = anthropic.json_tool_for(call.body)
    stream = bool(call.body.get("stream"))
    wants_usage = stream and bool(
        (call.body.get("stream_options") or {}).get("include_usage")
    )
    request = _client().build_request(
        "POST",
        f"{api_root(upstream.base_url)}/v1/messages",
        content=json.dumps(payload).encode(),
        headers=anthropic.request_headers(upstream.api_key or ""),
    )
    response, sent = await _open(request, target)
    if response.status_code >= 400:
        return await _upstream_error(call, target, response, sent)
    _succeeded(target)
    if stream and "text/event-stream" in response.headers.get("content-type", ""):
        translator = anthropic.StreamTranslator(
            model=target.model,
            request_id=call.id,
            include_usage=wants_usage,
            json_tool=json_tool,
        )
        chunks = _relay_anthropic(call, target, response, translator)
        return _stream_answer(chunks, call, target, sent)
    body = await response.aread()
    await response.aclose()
    upstream_seconds = time.perf_counter() - sent
    try:
        message = json.loads(body)
        result = anthropic.from_anthropic(
            message, model=target.model, request_id=call.id, json_tool=json_tool
        )
    except (ValueError, KeyError, TypeError):
        raise GatewayError(
            502,
            "The upstream answered something that is not a message.",
            code="bad_upstream_answer",
        ) from None
    _finish(call, target, _usage_tuple(result.get("usage")))
    answer = HttpResponse(json.dumps(result), content_type="application/json")
    return _routed(answer, call, target, upstream_seconds)


async def _relay_anthropic(
    call: Call,
    target: Target,
    response: httpx.Response,
    translator: anthropic.StreamTranslator,
) -> AsyncIterator[bytes]:
    decoder = anthropic.SSEDecoder()
    status = 200
    try:
        async for chunk in response.aiter_raw():
            for event, data in decoder.feed(chunk):
                try:
                    chunks = translator.feed(event, data)
                except anthropic.UpstreamError as exc:
                    status = 502
                    yield b"data: " + json.dumps(exc.to_openai()).encode() + b"\n\n"
                    return
                for item in chunks:
                    yield (
                        b"data: "
                        + json.dumps(item, separators=(",", ":")).encode()
                        + b"\n\n"
                    )
        yield b"data: [DONE]\n\n"
    finally:
        await response.aclose()
        usage = translator.usage()
        _finish(
            call,
            target,
            (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens, False),
            status=status,
        )


class _StreamMeter:
    """Relays an OpenAI-format stream line by line, reading only the usage chunk."""

    def __init__(self, call: Call, target: Target, wants_usage: bool) -> None:
        self.call = call
        self.target = target
        self.wants_usage = wants_usage
        self.usage: tuple[int, int, int, bool] | None = None
        self.chunks = 0

    async def relay(self, response: httpx.Response) -> AsyncIterator[bytes]:
        pending = b""
        try:
            async for raw in response.aiter_raw():
                pending += raw
                if b"\n" not in raw:
                    continue
                *lines, pending = pending.split(b"\n")
                out = [line for line in lines if self._keep(line)]
                if out:
                    yield b"\n".join(out) + b"\n"
            if pending and self._keep(pending):
                yield pending
        finally:
            await response.aclose()
            usage = self.usage or self._estimate()
            _finish(self.call, self.target, usage)

    def _keep(self, line: bytes) -> bool:
        if not line.startswith(b"data: {"):
            return True
        self.chunks += 1
        if _USAGE.search(line):
            try:
                data = json.loads(line[6:])
            except ValueError:
                return True
            self.usage = _usage_tuple(data.get("usage"))
            if not self.wants_usage and not data.get("choices"):
                return False  # the usage-only chunk the client did not ask for
        return True

    def _estimate(self) -> tuple[int, int, int, bool]:
        return (_prompt_estimate(self.call), max(self.chunks - 1, 0), 0, True)


def _prompt_estimate(call: Call) -> int:
    """Prompt tokens when the upstream reports none: about 4 characters a token."""
    return len(json.dumps(call.body.get("messages", ""))) // 4


def _usage_tuple(usage: Any) -> tuple[int, int, int, bool] | None:
    if not isinstance(usage, dict):
        return None
    details = usage.get("prompt_tokens_details") or {}
    return (
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
        int((details.get("cached_tokens") if isinstance(details, dict) else 0) or 0),
        False,
    )


def _usage_of(body: bytes) -> tuple[int, int, int, bool] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return _usage_tuple(data.get("usage")) if isinstance(data, dict) else None


def _finish(
    call: Call,
    target: Target,
    usage: tuple[int, int, int, bool] | None,
    *,
    status: int = 200,
) -> None:
    """Meter a request that got an answer (estimated when the upstream gave no usage)."""
    if usage is None:
        usage = (_prompt_estimate(call), 0, 0, True)
    tokens_in, tokens_out, cached, estimated = usage
    assert call.snapshot is not None
    limits.count_tokens(call.snapshot, tokens_in + tokens_out)
    metering.record(
        _entry(
            call,
            target=target,
            status=status,
            usage=(tokens_in, tokens_out, cached),
            estimated=estimated,
        )
    )


def _entry(
    call: Call,
    *,
    status: int,
    target: Target | None = None,
    code: str = "",
    usage: tuple[int, int, int] = (0, 0, 0),
    estimated: bool = False,
) -> dict[str, Any]:
    key = call.snapshot
    entry: dict[str, Any] = {
        "id": call.id,
        "at": time.time(),
        "use_case": key.use_case_id if key else None,
        "key": key.key_id if key else None,
        "workload": call.workload,
        "status": status,
        "code": code,
        "input_tokens": usage[0],
        "output_tokens": usage[1],
        "cached_input_tokens": usage[2],
        "estimated": estimated,
        "latency_ms": int((time.perf_counter() - call.started) * 1000),
        "log": bool(key and key.log_requests),
    }
    if target is not None:
        entry["endpoint"] = target.upstream.id
        entry["model"] = target.model
    return entry


__all__ = ["chat_completions", "models", "seed_routing"]
