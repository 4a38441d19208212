"""vLLM: cumulative token and request counters from ``GET /metrics``."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
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
from apps.endpoints.collectors.prometheus import (
    Sample,
    counter_problem,
    parse_samples,
)

__all__ = ["VllmCollector"]

PROMPT_TOKENS = "vllm:prompt_tokens_total"
CACHED_PROMPT_TOKENS = "vllm:prompt_tokens_cached_total"
GENERATION_TOKENS = "vllm:generation_tokens_total"
REQUEST_SUCCESS = "vllm:request_success_total"
_FIELDS = {
    PROMPT_TOKENS: "input_tokens",
    CACHED_PROMPT_TOKENS: "cached_input_tokens",
    GENERATION_TOKENS: "output_tokens",
    REQUEST_SUCCESS: "requests",
}
_CREATED = frozenset(name.removesuffix("_total") + "_created" for name in _FIELDS)
#: The only metric names read from the page.
_NAMES = frozenset(_FIELDS) | _CREATED
#: ``finished_reason`` values that are not completions: the client went away
#: (``abort``) or the engine failed the request (``error``, answered as a 500).
NOT_COMPLETED = frozenset({"abort", "error"})


class VllmCollector(BaseCollector):
    """Counter readings per served model and engine from vLLM's ``/metrics``.

    ``vllm:prompt_tokens_total`` and ``vllm:generation_tokens_total`` give tokens,
    ``vllm:prompt_tokens_cached_total`` (prefix-cache and KV-transfer hits, part
    of the prompt tokens) gives cached input. Requests are completed requests:
    ``vllm:request_success_total`` summed over ``finished_reason`` except
    ``abort`` and ``error``. Series stay per ``engine`` (data-parallel engines
    restart independently) so resets are detected per underlying counter; sum
    the deltas by model. A series with a value that is not a count comes back
    as a reading with ``error`` set, alone.
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
        readings = _readings(parse_samples(text, names=_NAMES, where=url))
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
        refused = [r.error for r in readings if r.error]
        detail = f"vLLM metrics found for {len(readings)} series."
        if refused:
            detail += f" Refused: {'; '.join(refused)}."
        return ProbeReport(ok=True, models=models, detail=detail)


@dataclass
class _Series:
    values: dict[str, float]
    created: float = 0.0
    problem: str = ""


def _readings(samples: list[Sample]) -> list[Reading]:
    series: dict[tuple[str, str], _Series] = defaultdict(
        lambda: _Series(dict.fromkeys(_FIELDS.values(), 0.0))
    )
    for sample in samples:
        key = (sample.labels.get("model_name", ""), sample.labels.get("engine", ""))
        state = series[key]
        problem = counter_problem(sample)
        if problem:
            state.problem = state.problem or problem
        elif sample.name in _FIELDS:
            if sample.name != REQUEST_SUCCESS or (
                sample.labels.get("finished_reason") not in NOT_COMPLETED
            ):
                state.values[_FIELDS[sample.name]] += sample.value
        else:
            # The latest start of any counter in the series marks a restart.
            state.created = max(state.created, sample.value)
    readings = []
    for (model, engine), state in series.items():
        labels = {"model": model}
        if engine:
            labels["engine"] = engine
        name = series_name("vllm", **labels)
        if state.problem:
            readings.append(
                Reading(
                    series=name,
                    model=model,
                    mode="counter",
                    error=f"Refused {state.problem}.",
                )
            )
            continue
        values = state.values
        readings.append(
            Reading(
                series=name,
                model=model,
                mode="counter",
                requests=round(values["requests"]),
                input_tokens=round(values["input_tokens"]),
                output_tokens=round(values["output_tokens"]),
                cached_input_tokens=round(values["cached_input_tokens"]),
                started_at=(
                    datetime.fromtimestamp(state.created, tz=UTC)
                    if state.created
                    else None
                ),
            )
        )
    return sorted(readings, key=lambda r: r.series)
