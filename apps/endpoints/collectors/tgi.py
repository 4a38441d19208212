"""Hugging Face TGI: request and token totals from ``GET /metrics``."""

from __future__ import annotations

from datetime import datetime

import httpx

from apps.endpoints.collectors.base import (
    BaseCollector,
    CollectorError,
    ProbeReport,
    Reading,
    api_root,
    bearer,
    check_window,
    get_str,
    series_name,
)
from apps.endpoints.collectors.prometheus import Sample, parse_samples

__all__ = ["TgiCollector"]


class TgiCollector(BaseCollector):
    """One counter reading for the single model a TGI server serves.

    TGI has no token counters: the ``_sum`` of the per-request histograms
    ``tgi_request_input_length`` and ``tgi_request_generated_tokens`` are the
    running totals. Requests are ``tgi_request_success`` (like vLLM's successful
    requests; failed ones carry no tokens), or ``tgi_request_count`` on builds
    without it. Metrics have no model label, so the model comes from ``/info``.
    TGI is in maintenance mode upstream: supported, not designed around.
    """

    kind = "tgi"
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
        return [self._reading(client, base_url=base_url, api_key=api_key)]

    def _reading(
        self, client: httpx.Client, *, base_url: str, api_key: str | None
    ) -> Reading:
        url = f"{api_root(base_url)}/metrics"
        text = self.fetch_text(client, url, api_key=api_key, headers=bearer(api_key))
        samples = parse_samples(text, prefixes=("tgi_request_",), where=url)
        totals = _totals(samples)
        if totals is None:
            raise CollectorError(f"{url} has no TGI request metrics; is it TGI?")
        requests, input_tokens, output_tokens = totals
        return Reading(
            series=series_name("tgi"),
            model=self._model(client, base_url=base_url, api_key=api_key),
            mode="counter",
            requests=round(requests),
            input_tokens=round(input_tokens),
            output_tokens=round(output_tokens),
        )

    def _model(
        self, client: httpx.Client, *, base_url: str, api_key: str | None
    ) -> str:
        try:
            info = self.fetch_json(
                client,
                f"{api_root(base_url)}/info",
                api_key=api_key,
                headers=bearer(api_key),
            )
            return get_str(info, "model_id", "info") or ""
        except CollectorError:
            # The counters are what matters; the endpoint's mapping names the model.
            return ""

    def _probe(
        self, client: httpx.Client, *, base_url: str, api_key: str | None
    ) -> ProbeReport:
        reading = self._reading(client, base_url=base_url, api_key=api_key)
        return ProbeReport(
            ok=True,
            models=[reading.model] if reading.model else [],
            detail="TGI metrics found.",
        )


def _totals(samples: list[Sample]) -> tuple[float, float, float] | None:
    values: dict[str, float] = {}
    for sample in samples:
        name = sample.name.removesuffix("_total")
        values[name] = values.get(name, 0.0) + sample.value
    known = {
        "tgi_request_success",
        "tgi_request_count",
        "tgi_request_input_length_sum",
        "tgi_request_generated_tokens_sum",
    }
    if not known & values.keys():
        return None
    requests = values.get("tgi_request_success", values.get("tgi_request_count", 0.0))
    return (
        requests,
        values.get("tgi_request_input_length_sum", 0.0),
        values.get("tgi_request_generated_tokens_sum", 0.0),
    )
