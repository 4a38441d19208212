"""vLLM: cumulative token and request counters from ``GET /metrics``."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import httpx

from apps.endpoints.collectors.base import (
    BaseCollector,
    CollectorError,
    ProbeReport,
    Reading,
    api_root,
    bearer,
    check_window,
    model_ids,
    series_name,
)
from apps.endpoints.collectors.prometheus import Sample, parse_samples

__all__ = ["VllmCollector"]

PROMPT_TOKENS = "vllm:prompt_tokens_total"
GENERATION_TOKENS = "vllm:generation_tokens_total"
REQUEST_SUCCESS = "vllm:request_success_total"
_FIELDS = {
    PROMPT_TOKENS: "input_tokens",
    GENERATION_TOKENS: "output_tokens",
    REQUEST_SUCCESS: "requests",
}
_CREATED = {name.removesuffix("_total") + "_created" for name in _FIELDS}


class VllmCollector(BaseCollector):
    """Counter readings per served model and engine from vLLM's ``/metrics``.

    ``vllm:prompt_tokens_total`` and ``vllm:generation_tokens_total`` give tokens,
    ``vllm:request_success_total`` summed over ``finished_reason`` gives requests.
    Series stay per ``engine`` (data-parallel engines restart independently) so
    resets are detected per underlying counter; sum the deltas by model.
    """

    kind = "vllm"
    mode = "counter"

    def collect(
        self,
        client: httpx.Client,
        *,
        base_url: str,
        api_key: str | None,
        since: datetime,
        until: datetime,
    ) -> list[Reading]:
        check_window(since, until)
        return self._readings(client, base_url=base_url, api_key=api_key)

    def _readings(
        self, client: httpx.Client, *, base_url: str, api_key: str | None
    ) -> list[Reading]:
        url = f"{api_root(base_url)}/metrics"
        text = self.fetch_text(client, url, api_key=api_key, headers=bearer(api_key))
        samples = parse_samples(text, prefixes=("vllm:",), where=url)
        readings = _readings(samples)
        if not readings:
            raise CollectorError(f"{url} has no vLLM usage counters; is it vLLM?")
        return readings

    def _probe(
        self, client: httpx.Client, *, base_url: str, api_key: str | None
    ) -> ProbeReport:
        readings = self._readings(client, base_url=base_url, api_key=api_key)
        models = sorted({r.model for r in readings if r.model})
        try:
            data = self.fetch_json(
                client,
                f"{api_root(base_url)}/v1/models",
                api_key=api_key,
                headers=bearer(api_key),
            )
            models = sorted(set(models) | set(model_ids(data, "models")))
        except CollectorError:
            pass  # /metrics answered; the model list is a bonus
        return ProbeReport(
            ok=True,
            models=models,
            detail=f"vLLM metrics found for {len(readings)} series.",
        )


def _readings(samples: list[Sample]) -> list[Reading]:
    totals: dict[tuple[str, str], dict[str, float]] = defaultdict(
        lambda: dict.fromkeys(_FIELDS.values(), 0.0)
    )
    created: dict[tuple[str, str], float] = {}
    for sample in samples:
        key = (sample.labels.get("model_name", ""), sample.labels.get("engine", ""))
        if sample.name in _FIELDS:
            totals[key][_FIELDS[sample.name]] += sample.value
        elif sample.name in _CREATED:
            # The latest start of any counter in the series marks a restart.
            created[key] = max(created.get(key, 0.0), sample.value)
    readings = []
    for (model, engine), values in totals.items():
        labels = {"model": model}
        if engine:
            labels["engine"] = engine
        started = created.get((model, engine))
        readings.append(
            Reading(
                series=series_name("vllm", **labels),
                model=model,
                mode="counter",
                requests=round(values["requests"]),
                input_tokens=round(values["input_tokens"]),
                output_tokens=round(values["output_tokens"]),
                started_at=datetime.fromtimestamp(started, tz=UTC) if started else None,
            )
        )
    return sorted(readings, key=lambda r: r.series)
