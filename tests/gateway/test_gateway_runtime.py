"""The gateway under a real uvicorn, called with the official ``openai`` SDK.

Upstreams are loopback servers playing vLLM's OpenAI API and Anthropic's
Messages API; an "external" one records every request it gets. Metering is
flushed explicitly (``flush_pending``) so each test sees the ledger it made.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import openai as openai_sdk
import pytest
from django.db.models import Sum
from django.utils import timezone

from apps.endpoints import services
from apps.endpoints.models import DailyUsage, UsageSample
from apps.endpoints.services import metering as writer
from apps.gateway import metering, snapshot, views
from apps.gateway.keys import issue_gateway_key, revoke_gateway_key
from apps.gateway.models import GatewayUsage
from apps.portfolio.models import Budget
from apps.reviews.models import Decision
from tests.factories import (
    EndpointMappingFactory,
    ServingEndpointFactory,
    UseCaseFactory,
    UserFactory,
)
from tests.playground.asgi_server import AsgiServer
from tests.servers import FakeServer, RecordedRequest, Reply

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _gateway_settings(settings, tmp_path):  # type: ignore[no-untyped-def]
    settings.ENDPOINT_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]
    settings.GATEWAY_SPOOL_DIR = str(tmp_path / "spool")
    settings.GATEWAY_FLUSH_INTERVAL = 3600  # tests flush when they choose
    settings.GATEWAY_COOLDOWN_AFTER = 2
    settings.FIELD_ENCRYPTION_KEY = "ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMzI="
    _reset()
    yield
    _reset()


def _reset() -> None:
    writer.reset()
    metering._refusals.clear()
    views._cooldown.clear()
    views._clients.clear()
    snapshot.invalidate()


@pytest.fixture
def gateway() -> Iterator[AsgiServer]:
    with AsgiServer() as server:
        yield server


def flush(expected: int) -> int:
    """Flush until ``expected`` requests are metered: a stream's client may read
    ``[DONE]`` a moment before the gateway has finished the request."""
    flushed = metering.flush_pending()
    for _ in range(100):
        if flushed >= expected:
            break
        time.sleep(0.05)
        flushed += metering.flush_pending()
    return flushed


def serve(models: list[str], reply: str = "Hello from upstream") -> FakeServer:
    server = FakeServer().start()
    server.models = models
    server.chat_reply = reply
    return server


@pytest.fixture
def small() -> Iterator[FakeServer]:
    server = serve(["llama-3.1-8b"], "small model answer")
    yield server
    server.stop()


@pytest.fixture
def big() -> Iterator[FakeServer]:
    server = serve(["llama-3.1-70b"], "big model answer")
    yield server
    server.stop()


@pytest.fixture
def external() -> Iterator[FakeServer]:
    server = serve(["gpt-4o"], "external answer")
    yield server
    server.stop()


def approve(use_case, routes: list[dict[str, Any]]) -> None:  # type: ignore[no-untyped-def]
    board = UserFactory(role="board")
    use_case.status = "approved"
    use_case.save(update_fields=["status"])
    Decision.objects.create(
        use_case=use_case,
        outcome="approved",
        pattern="hybrid",
        routes=routes,
        decided_by=board,
    )


def target(endpoint, model: str, weight: int = 1) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {"endpoint": endpoint.pk, "model": model, "weight": weight}


def key_for(use_case, **limits: Any) -> str:  # type: ignore[no-untyped-def]
    _, secret = issue_gateway_key(
        use_case=use_case, name="app", by=use_case.owner, **limits
    )
    return secret


def client(gateway: AsgiServer, secret: str) -> openai_sdk.OpenAI:
    return openai_sdk.OpenAI(
        base_url=f"{gateway.url}/gateway/v1", api_key=secret, max_retries=0
    )


@pytest.fixture
def hybrid(small: FakeServer, big: FakeServer, external: FakeServer):  # type: ignore[no-untyped-def]
    """Classification on the small in-house model, reasoning on the big one with
    the external API as fallback."""
    small_ep = ServingEndpointFactory(
        base_url=small.url, served_models=["llama-3.1-8b"]
    )
    big_ep = ServingEndpointFactory(base_url=big.url, served_models=["llama-3.1-70b"])
    ext_ep = ServingEndpointFactory(
        kind="openai_compatible",
        location="external",
        base_url=external.url,
        served_models=["gpt-4o"],
        input_usd_per_mtok=Decimal("2.5"),
        output_usd_per_mtok=Decimal("10"),
    )
    use_case = UseCaseFactory(workloads=[("classification", 70), ("reasoning", 30)])
    approve(
        use_case,
        [
            {
                "workload": "classification",
                "targets": [target(small_ep, "llama-3.1-8b")],
                "fallback": [],
            },
            {
                "workload": "reasoning",
                "targets": [target(big_ep, "llama-3.1-70b")],
                "fallback": [target(ext_ep, "gpt-4o")],
            },
        ],
    )
    return use_case, small_ep, big_ep, ext_ep


def test_chat_and_streaming_work_through_the_sdk_and_are_metered(  # type: ignore[no-untyped-def]
    gateway, hybrid, small
) -> None:
    use_case, small_ep, *_ = hybrid
    sdk = client(gateway, key_for(use_case))
    raw = sdk.chat.completions.with_raw_response.create(
        model="classification", messages=[{"role": "user", "content": "Sort this"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "small model answer"
    assert raw.headers["x-portal-route"] == f"{small_ep.pk}/llama-3.1-8b"
    assert float(raw.headers["x-portal-overhead-ms"]) >= 0
    ask = [{"role": "user", "content": "Sort this"}]
    counted = list(
        sdk.chat.completions.create(
            model="classification",
            messages=ask,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    stream_usage = counted[-1].usage
    # Without include_usage: the client gets no usage chunk, but the gateway
    # asked the upstream for one, to meter the stream.
    chunks = list(
        sdk.chat.completions.create(model="classification", messages=ask, stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "small model answer"
    assert all(c.choices for c in chunks) and all(c.usage is None for c in chunks)
    assert small.requests[-1].json()["stream_options"] == {"include_usage": True}
    assert flush(3) == 3
    rows = GatewayUsage.objects.filter(use_case=use_case)
    assert rows.count() == 3
    assert rows.aggregate(i=Sum("input_tokens"))["i"] == (
        completion.usage.prompt_tokens + 2 * stream_usage.prompt_tokens
    )
    assert rows.aggregate(o=Sum("output_tokens"))["o"] == (
        completion.usage.completion_tokens + 2 * stream_usage.completion_tokens
    )
    assert not rows.filter(estimated=True).exists()
    from apps.gateway.models import GatewayKey

    assert GatewayKey.objects.get(use_case=use_case).last_used_at is not None
    # vLLM's own counters count this traffic too: the sample is an attribution.
    sample = UsageSample.objects.get(endpoint=small_ep, use_case=use_case)
    assert sample.measure == "gateway" and sample.requests == 3


def test_it_routes_by_workload_auto_and_model(  # type: ignore[no-untyped-def]
    gateway, hybrid, small, big
) -> None:
    use_case, *_ = hybrid
    sdk = client(gateway, key_for(use_case))
    ask = [{"role": "user", "content": "hi"}]
    assert (
        sdk.chat.completions.create(model="reasoning", messages=ask)
        .choices[0]
        .message.content
        == "big model answer"
    )
    # auto: the largest workload (classification, 70 %).
    assert (
        sdk.chat.completions.create(model="auto", messages=ask)
        .choices[0]
        .message.content
        == "small model answer"
    )
    assert (
        sdk.chat.completions.create(model="llama-3.1-70b", messages=ask)
        .choices[0]
        .message.content
        == "big model answer"
    )
    assert big.requests[-1].json()["model"] == "llama-3.1-70b"
    listed = {m.id for m in sdk.models.list()}
    assert listed == {
        "classification",
        "reasoning",
        "auto",
        "llama-3.1-8b",
        "llama-3.1-70b",
        "gpt-4o",
    }
    with pytest.raises(openai_sdk.PermissionDeniedError) as refused:
        sdk.chat.completions.create(model="gpt-5", messages=ask)
    assert (
        "classification" in refused.value.message
        and refused.value.code == "model_not_allowed"
    )


def test_a_weighted_split_holds_within_three_percent(gateway, small, big) -> None:  # type: ignore[no-untyped-def]
    a = ServingEndpointFactory(base_url=small.url)
    b = ServingEndpointFactory(base_url=big.url)
    use_case = UseCaseFactory()
    approve(
        use_case,
        [
            {
                "workload": "classification",
                "targets": [
                    target(a, "llama-3.1-8b", 3),
                    target(b, "llama-3.1-70b", 1),
                ],
                "fallback": [],
            }
        ],
    )
    secret = key_for(use_case)
    views.seed_routing(20261201)
    body = {"model": "classification", "messages": [{"role": "user", "content": "x"}]}
    with httpx.Client(
        base_url=gateway.url, headers={"authorization": f"Bearer {secret}"}
    ) as http:
        for _ in range(2000):
            assert (
                http.post("/gateway/v1/chat/completions", json=body).status_code == 200
            )
    share = len(small.requests) / 2000
    assert abs(share - 0.75) <= 0.03, share


def test_fallback_then_cool_down_of_a_failing_target(
    gateway, hybrid, big, external
) -> None:  # type: ignore[no-untyped-def]
    use_case, _, _, ext_ep = hybrid
    sdk = client(gateway, key_for(use_case))
    big.fail("/v1/chat/completions", status=503)
    ask = [{"role": "user", "content": "think"}]
    for _ in range(3):
        answer = sdk.chat.completions.with_raw_response.create(
            model="reasoning", messages=ask
        )
        assert answer.parse().choices[0].message.content == "external answer"
        assert answer.headers["x-portal-route"] == f"{ext_ep.pk}/gpt-4o"
    tried = [r for r in big.requests if r.path == "/v1/chat/completions"]
    # Two failures put the big model in its cool-down: the third call skips it.
    assert len(tried) == 2
    assert len([r for r in external.requests if r.path == "/v1/chat/completions"]) == 3


def test_must_stay_data_gets_503_and_never_reaches_the_external_endpoint(  # type: ignore[no-untyped-def]
    gateway, hybrid, big, external
) -> None:
    use_case, *_ = hybrid
    # The requester now says the data must stay (after the routes were approved).
    use_case.must_stay_in_infrastructure = True
    use_case.save(update_fields=["must_stay_in_infrastructure"])
    sdk = client(gateway, key_for(use_case))
    big.fail("/v1/chat/completions", status=500)
    ask = [{"role": "user", "content": "restricted"}]
    for _ in range(2):  # two failures put the in-house target in its cool-down
        with pytest.raises(openai_sdk.InternalServerError) as failed:
            sdk.chat.completions.create(model="reasoning", messages=ask)
        assert failed.value.status_code == 502
    with pytest.raises(openai_sdk.InternalServerError) as refused:
        sdk.chat.completions.create(model="reasoning", messages=ask)
    assert refused.value.status_code == 503
    assert refused.value.code == "no_healthy_in_house_target"
    assert external.requests == []


def test_a_hard_budget_refuses_with_the_numbers(gateway, hybrid) -> None:  # type: ignore[no-untyped-def]
    use_case, small_ep, *_ = hybrid
    Budget.objects.create(
        use_case=use_case, monthly_amount=Decimal("10"), enforcement="hard"
    )
    DailyUsage.objects.create(
        date=timezone.now().date(),
        endpoint=small_ep,
        use_case=use_case,
        cost=Decimal("10.50"),
    )
    sdk = client(gateway, key_for(use_case))
    with pytest.raises(openai_sdk.RateLimitError) as refused:
        sdk.chat.completions.create(
            model="classification", messages=[{"role": "user", "content": "x"}]
        )
    assert refused.value.code == "budget_exceeded"
    assert "10.50" in refused.value.message and "10.00" in refused.value.message
    assert not GatewayUsage.objects.exists()


def test_a_soft_budget_adds_a_warning_header(gateway, hybrid) -> None:  # type: ignore[no-untyped-def]
    use_case, small_ep, *_ = hybrid
    Budget.objects.create(use_case=use_case, monthly_amount=Decimal("10"))
    DailyUsage.objects.create(
        date=timezone.now().date(),
        endpoint=small_ep,
        use_case=use_case,
        cost=Decimal("12"),
    )
    raw = client(gateway, key_for(use_case)).chat.completions.with_raw_response.create(
        model="classification", messages=[{"role": "user", "content": "x"}]
    )
    assert "12.00" in raw.headers["x-portal-budget-warning"]


def test_a_key_limit_refuses_the_request_over_it(gateway, hybrid) -> None:  # type: ignore[no-untyped-def]
    use_case, *_ = hybrid
    sdk = client(gateway, key_for(use_case, requests_per_minute=2))
    ask = [{"role": "user", "content": "x"}]
    sdk.chat.completions.create(model="classification", messages=ask)
    sdk.chat.completions.create(model="classification", messages=ask)
    with pytest.raises(openai_sdk.RateLimitError) as refused:
        sdk.chat.completions.create(model="classification", messages=ask)
    assert refused.value.code == "rate_limit_exceeded"


def test_bad_input_gets_the_openai_error_shape_and_nothing_is_metered(  # type: ignore[no-untyped-def]
    gateway, hybrid, settings
) -> None:
    use_case, *_ = hybrid
    secret = key_for(use_case)
    url = f"{gateway.url}/gateway/v1/chat/completions"
    auth = {"authorization": f"Bearer {secret}", "content-type": "application/json"}
    cases = [
        (b"{not json", 400, "invalid_json"),
        (json.dumps({"model": "auto"}).encode(), 400, "missing_required_parameter"),
        (
            json.dumps(
                {
                    "model": "auto",
                    "messages": [{"role": "user", "content": "x" * 5_000_000}],
                }
            ).encode(),
            413,
            "request_too_large",
        ),
        (
            json.dumps(
                {"model": "nope", "messages": [{"role": "user", "content": "x"}]}
            ).encode(),
            403,
            "model_not_allowed",
        ),
    ]
    for body, status, code in cases:
        answer = httpx.post(url, content=body, headers=auth)
        assert answer.status_code == status
        error = answer.json()["error"]
        assert (
            error["code"] == code
            and error["message"]
            and "Traceback" not in answer.text
        )
    for header in (
        {"authorization": "Bearer pgw_not-a-real-key"},
        {"authorization": "Basic abc"},
        {},
    ):
        answer = httpx.post(
            url,
            json={"model": "auto", "messages": [{"role": "user", "content": "x"}]},
            headers=header,
        )
        assert (
            answer.status_code == 401
            and answer.json()["error"]["code"] == "invalid_api_key"
        )
    assert metering.flush_pending() == 0
    assert not GatewayUsage.objects.exists()


def test_revoked_keys_and_unapproved_use_cases_raise_the_sdk_errors(
    gateway, hybrid
) -> None:  # type: ignore[no-untyped-def]
    use_case, *_ = hybrid
    secret = key_for(use_case)
    sdk = client(gateway, secret)
    ask = [{"role": "user", "content": "x"}]
    sdk.chat.completions.create(model="auto", messages=ask)
    use_case.status = "retired"
    use_case.save(update_fields=["status"])
    with pytest.raises(openai_sdk.PermissionDeniedError) as refused:
        sdk.chat.completions.create(model="auto", messages=ask)
    assert "retired" in refused.value.message
    from apps.gateway.models import GatewayKey

    revoke_gateway_key(key=GatewayKey.objects.get(use_case=use_case), by=use_case.owner)
    with pytest.raises(openai_sdk.AuthenticationError):
        sdk.chat.completions.create(model="auto", messages=ask)
    metering.flush_pending(include_refusals_of_this_minute=True)
    from apps.usecases.models import AuditEvent

    event = AuditEvent.objects.get(kind="gateway.refused", use_case=use_case)
    assert event.data["code"] == "use_case_not_approved" and event.data["count"] == 1


def anthropic_upstream() -> FakeServer:
    server = FakeServer().start()

    def messages(request: RecordedRequest) -> Reply:
        body = request.json()
        usage = {"input_tokens": 12, "output_tokens": 3, "cache_read_input_tokens": 4}
        if not body.get("stream"):
            return Reply(
                200,
                {"content-type": "application/json"},
                json.dumps(
                    {
                        "id": "msg_1",
                        "type": "message",
                        "role": "assistant",
                        "model": body["model"],
                        "content": [{"type": "text", "text": "Bonjour"}],
                        "stop_reason": "end_turn",
                        "stop_sequence": None,
                        "usage": usage,
                    }
                ).encode(),
            )
        events = [
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": "msg_2",
                        "type": "message",
                        "role": "assistant",
                        "model": body["model"],
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {**usage, "output_tokens": 1},
                    },
                },
            ),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "Bon"},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": "jour"},
                },
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": 3},
                },
            ),
            ("message_stop", {"type": "message_stop"}),
        ]
        text = "".join(
            f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events
        )
        return Reply(200, {"content-type": "text/event-stream"}, text.encode())

    server.route("POST", "/v1/messages", messages)
    return server


def test_an_anthropic_upstream_is_translated_both_ways(gateway) -> None:  # type: ignore[no-untyped-def]
    upstream = anthropic_upstream()
    try:
        endpoint = ServingEndpointFactory(
            kind="anthropic",
            location="in_house",
            base_url=upstream.url,
            served_models=["claude-sonnet-4-5"],
        )
        endpoint.set_api_key("sk-ant-test")
        endpoint.save()
        use_case = UseCaseFactory()
        approve(
            use_case,
            [
                {
                    "workload": "classification",
                    "targets": [target(endpoint, "claude-sonnet-4-5")],
                    "fallback": [],
                }
            ],
        )
        sdk = client(gateway, key_for(use_case))
        ask = [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Say hello in French"},
        ]
        answer = sdk.chat.completions.create(model="auto", messages=ask)
        assert answer.choices[0].message.content == "Bonjour"
        assert answer.usage.prompt_tokens == 16 and answer.usage.completion_tokens == 3
        sent = upstream.requests[-1]
        assert sent.headers["x-api-key"] == "sk-ant-test"
        assert sent.json()["system"] == "Be brief."
        chunks = list(
            sdk.chat.completions.create(
                model="auto",
                messages=ask,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        assert (
            "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
            == "Bonjour"
        )
        assert chunks[-1].usage.prompt_tokens == 16
        assert flush(2) == 2
        assert GatewayUsage.objects.aggregate(i=Sum("input_tokens"))["i"] == 32
    finally:
        upstream.stop()


def test_a_retried_flush_and_a_killed_process_spool_count_nothing_twice(
    gateway, hybrid
) -> None:  # type: ignore[no-untyped-def]
    use_case, small_ep, *_ = hybrid
    sdk = client(gateway, key_for(use_case))
    for _ in range(3):
        sdk.chat.completions.create(
            model="classification", messages=[{"role": "user", "content": "x"}]
        )
    spool = metering._get_spool()
    ready = spool.rotate()
    assert ready is not None
    entries = metering._read(ready)
    metering.write_entries(entries)  # the flush, then the same flush retried
    metering.write_entries(entries)
    # A process killed after writing its spool: a file of a pid that is gone.
    orphan = metering.spool_dir() / "999999999-dead.jsonl"
    orphan.write_text(
        ready.read_text() + json.dumps({**entries[0], "id": "gw-orphan"}) + "\n"
    )
    ready.unlink()
    metering.flush_pending()
    assert not orphan.exists()
    assert GatewayUsage.objects.count() == 4
    sample = UsageSample.objects.get(endpoint=small_ep, use_case=use_case)
    assert sample.requests == 4


def test_gateway_and_collector_usage_of_one_endpoint_reconcile(gateway, small) -> None:  # type: ignore[no-untyped-def]
    endpoint = ServingEndpointFactory(
        base_url=small.url, served_models=["llama-3.1-8b"]
    )
    other = UseCaseFactory(title="Direct caller")
    EndpointMappingFactory(endpoint=endpoint, use_case=other, model_name="llama-3.1-8b")
    use_case = UseCaseFactory(title="Through the gateway")
    approve(
        use_case,
        [
            {
                "workload": "classification",
                "targets": [target(endpoint, "llama-3.1-8b")],
                "fallback": [],
            }
        ],
    )
    small.set_vllm(
        model="llama-3.1-8b", requests=0, prompt_tokens=0, generation_tokens=0
    )
    services.collect_endpoint(endpoint_id=endpoint.pk)  # the counters' baseline
    sdk = client(gateway, key_for(use_case))
    answers = [
        sdk.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "x"}]
        )
        for _ in range(3)
    ]
    gateway_in = sum(a.usage.prompt_tokens for a in answers)
    gateway_out = sum(a.usage.completion_tokens for a in answers)
    # The server counted those three and two direct calls of 100 + 20 tokens.
    small.set_vllm(
        model="llama-3.1-8b",
        requests=5,
        prompt_tokens=gateway_in + 200,
        generation_tokens=gateway_out + 40,
    )
    services.collect_endpoint(endpoint_id=endpoint.pk)
    metering.flush_pending()
    rows = {
        row["use_case_id"]: row
        for row in DailyUsage.objects.filter(endpoint=endpoint)
        .values("use_case_id")
        .annotate(r=Sum("requests"), i=Sum("input_tokens"), o=Sum("output_tokens"))
    }
    assert (rows[use_case.pk]["r"], rows[use_case.pk]["i"], rows[use_case.pk]["o"]) == (
        3,
        gateway_in,
        gateway_out,
    )
    assert (rows[other.pk]["r"], rows[other.pk]["i"], rows[other.pk]["o"]) == (
        2,
        200,
        40,
    )


def test_a_warm_request_reads_nothing_from_the_database(  # type: ignore[no-untyped-def]
    gateway, hybrid, monkeypatch
) -> None:
    use_case, *_ = hybrid
    Budget.objects.create(use_case=use_case, monthly_amount=Decimal("100"))
    sdk = client(gateway, key_for(use_case))
    ask = [{"role": "user", "content": "x"}]
    sdk.chat.completions.create(model="classification", messages=ask)  # warms up

    def no_database(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a warm request read the database")

    monkeypatch.setattr(snapshot, "load_key", no_database)
    monkeypatch.setattr(snapshot, "load_month_to_date", no_database)
    answer = sdk.chat.completions.create(model="classification", messages=ask)
    assert answer.choices[0].message.content == "small model answer"


def test_a_slow_stream_is_relayed_whole_and_metered_once(
    gateway, hybrid, small
) -> None:  # type: ignore[no-untyped-def]
    use_case, *_ = hybrid
    small.chunk_delay = 0.2
    chunks = list(
        client(gateway, key_for(use_case)).chat.completions.create(
            model="classification",
            messages=[{"role": "user", "content": "slowly"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "small model answer"
    assert chunks[-1].usage.completion_tokens == 3
    assert flush(1) == 1
    row = GatewayUsage.objects.get()
    assert (row.output_tokens, row.estimated) == (3, False)
