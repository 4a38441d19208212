"""Demo endpoints in every state, mapped to demo use-cases, with 30 days of history.

Two in-house vLLM endpoints on 127.0.0.1:8101 and :8102 are really polled while
`make run` runs; an external OpenAI endpoint is paused (dummy key); a TGI
endpoint nothing answers on shows a failing endpoint.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.usecases.models import UseCase

from . import services
from .models import EndpointMapping, ServingEndpoint, UsageSample
from .pricing import PriceBook

ROUTER = "Customer email router"
TRIAGE = "Claims triage classifier"
COPY = "Campaign copy assistant"

ENDPOINTS: list[dict[str, Any]] = [
    {
        "name": "vLLM Llama 3.1 8B (in-house)",
        "kind": "vllm",
        "base_url": "http://127.0.0.1:8101",
        "location": "in_house",
        "hourly_cost": Decimal("2.4000"),  # one L40S-class GPU
        "served_models": ["meta-llama/Llama-3.1-8B-Instruct"],
        "poll_interval_seconds": 60,
        "maps": [("meta-llama/Llama-3.1-8B-Instruct", TRIAGE, 1.0)],
        "daily_requests": 95_000,
        "tokens": (900, 30),
    },
    {
        "name": "vLLM Llama 3.1 70B (in-house)",
        "kind": "vllm",
        "base_url": "http://127.0.0.1:8102",
        "location": "in_house",
        "hourly_cost": Decimal("12.0000"),  # 2 x H100 at $3/GPU-hour, two replicas
        "served_models": ["meta-llama/Llama-3.1-70B-Instruct"],
        "poll_interval_seconds": 60,
        "maps": [("meta-llama/Llama-3.1-70B-Instruct", ROUTER, 1.0)],
        "daily_requests": 52_000,
        "tokens": (1_500, 500),
    },
    {
        "name": "OpenAI (organisation)",
        "kind": "openai",
        "base_url": "https://api.openai.com",
        "location": "external",
        "enabled": False,
        "api_key": "sk-admin-demo-not-a-real-key",
        "input_usd_per_mtok": Decimal("2.5000"),
        "output_usd_per_mtok": Decimal("10.0000"),
        "served_models": ["gpt-4o", "gpt-4o-mini"],
        "poll_interval_seconds": 3600,
        "maps": [("gpt-4o", COPY, 1.0)],
        "daily_requests": 1_800,
        "tokens": (400, 350),
    },
    {
        "name": "TGI summariser (decommissioning)",
        "kind": "tgi",
        "base_url": "http://127.0.0.1:8103",
        "location": "in_house",
        "hourly_cost": Decimal("1.2000"),
        "chat_capable": False,
        # Once a day: the demo shows a failing endpoint without logging a failed
        # poll every few minutes on the console of `make run`.
        "poll_interval_seconds": 86_400,
        "maps": [],
        "daily_requests": 0,
        "tokens": (0, 0),
        "failing": "http://127.0.0.1:8103/metrics could not be reached: "
        "[Errno 111] Connection refused",
    },
]


def seed_demo(context: dict) -> None:
    platform = context.get("users", {}).get("platform")
    use_cases = {
        uc.title: uc for uc in UseCase.objects.filter(title__in=[ROUTER, TRIAGE, COPY])
    }
    rng = random.Random(5)
    for spec in ENDPOINTS:
        if ServingEndpoint.objects.filter(name=spec["name"]).exists():
            continue
        _seed_endpoint(dict(spec), use_cases, platform, rng)


def _seed_endpoint(
    spec: dict[str, Any], use_cases: dict[str, UseCase], by: Any, rng: random.Random
) -> None:
    maps = spec.pop("maps")
    daily_requests = spec.pop("daily_requests")
    tokens_in, tokens_out = spec.pop("tokens")
    failing = spec.pop("failing", None)
    api_key = spec.pop("api_key", None)
    with transaction.atomic():
        endpoint = services.save_endpoint(
            endpoint=None, fields=spec, api_key=api_key, by=by, check_base_url=False
        )
        shares: list[tuple[str, UseCase, float]] = []
        for model, title, share in maps:
            use_case = use_cases.get(title)
            if use_case is None:
                continue
            EndpointMapping.objects.create(
                endpoint=endpoint, model_name=model, use_case=use_case
            )
            shares.append((model, use_case, share))
        _seed_history(endpoint, shares, daily_requests, tokens_in, tokens_out, rng)
        if failing:
            ServingEndpoint.objects.filter(pk=endpoint.pk).update(
                health=ServingEndpoint.Health.FAILING,
                consecutive_failures=7,
                last_error=failing,
                last_error_at=timezone.now() - timedelta(minutes=3),
                last_polled_at=timezone.now() - timedelta(minutes=3),
            )


def _seed_history(
    endpoint: ServingEndpoint,
    shares: list[tuple[str, UseCase, float]],
    daily_requests: int,
    tokens_in: int,
    tokens_out: int,
    rng: random.Random,
) -> None:
    """Hourly samples for the 30 days before today, then their daily rollups."""
    if not shares or not daily_requests:
        return
    today = timezone.now().astimezone(UTC).date()
    samples = []
    days = [today - timedelta(days=n) for n in range(30, 0, -1)]
    for day_index, day in enumerate(days):
        weekday_factor = 0.55 if day.weekday() >= 5 else 1.0
        growth = 0.85 + 0.3 * day_index / len(days)
        for hour in range(24):
            # Office-hours curve: most traffic 08:00-18:00.
            curve = 1.8 if 8 <= hour < 18 else 0.35
            start = datetime.combine(day, time(hour), tzinfo=UTC)
            for model, use_case, share in shares:
                requests = int(
                    daily_requests
                    / 24
                    * curve
                    * weekday_factor
                    * growth
                    * share
                    * rng.uniform(0.85, 1.15)
                )
                model_name = model or (endpoint.served_models or [""])[0]
                samples.append(
                    UsageSample(
                        endpoint=endpoint,
                        series=f"{endpoint.kind}|demo|model={model_name}|use_case={use_case.pk}",
                        bucket_start=start,
                        bucket_end=start + timedelta(hours=1),
                        model=model_name,
                        use_case=use_case,
                        team_id=use_case.team_id,
                        requests=requests,
                        input_tokens=requests * tokens_in,
                        output_tokens=requests * tokens_out,
                        cost=None if endpoint.is_self_hosted else Decimal(0),
                    )
                )
    if not endpoint.is_self_hosted:
        prices = PriceBook(endpoint)
        for sample in samples:
            price = prices.price(sample.model)
            if price is not None:
                sample.cost = price.cost(
                    input_tokens=sample.input_tokens, output_tokens=sample.output_tokens
                ).quantize(services.CENT)
    UsageSample.objects.bulk_create(samples, batch_size=1000, ignore_conflicts=True)
    for day in days:
        services.rollup_day(endpoint=endpoint, day=day)
