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
from apps.endpoints.collectors.prometheus import (
    Sample,
    counter_problem,
    parse_samples,
)

__all__ = ["TgiCollector"]

SUCCESS = "tgi_request_success"
INPUT_LENGTH_SUM = "tgi_request_input_length_sum"
GENERATED_TOKENS_SUM = "tgi_request_generated_tokens_sum"
_FIELDS = {
    SUCCESS: "requests",
    INPUT_LENGTH_SUM: "input_tokens",
    GENERATED_TOKENS_SUM: "output_tokens",
}
# TGI's exporter writes counters without ``_total``; accept both spellings.
_NAMES = frozenset(_FIELDS) | {f"{SUCCESS}_total"}


class TgiCollector(BaseCollector):
    """One counter reading for the single model a TGI server serves.

    TGI has no token counters: the ``_sum`` of the per-request histograms
    ``tgi_request_input_length`` and ``tgi_request_generated_tokens`` are the
    running totals. Requests are completed requests, ``tgi_request_success``.
    TGI only writes a series once it has a value, so a fresh server has no
    ``tgi_request_*`` series at all and a server with only failed requests has
    no ``tgi_request_success``: both read as zero, never as an error. (Every
    TGI release with ``tgi_request_count`` also has ``tgi_request_success``, so
    an absent success counter means none succeeded yet; ``count - failures``
    would count requests in flight and drop when one of them fails.) Metrics
    have no model label, so the model comes from ``/info``. TGI is in
    maintenance mode upstream: supported, not designed around.
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
        samples = parse_samples(text, names=_NAMES, where=url)
        model = self._model(client, base_url=base_url, api_key=api_key)
        if not samples and model is None:
            # A fresh TGI has no request series yet, but always answers /info.
            raise CollectorError(
                f"{url} has no TGI request metrics and /info did not answer; is it TGI?"
            )
        return _reading(samples, model=model or "")

    def _model(
        self, client: httpx.Client, *, base_url: str, api_key: str | None
    ) -> str | None:
        """The served model from ``/info``; None when ``/info`` did not answer."""
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
            return None

    def _probe(
        self, client: httpx.Client, *, base_url: str, api_key: str | None
    ) -> ProbeReport:
        reading = self._reading(client, base_url=base_url, api_key=api_key)
        if reading.error:
            detail = f"TGI metrics found, but {reading.error}"
        elif reading.requests or reading.input_tokens or reading.output_tokens:
            detail = "TGI metrics found."
        else:
            detail = "TGI answers; it has served no requests yet (usage 0)."
        return ProbeReport(
            ok=True,
            models=[reading.model] if reading.model else [],
            detail=detail,
        )


def _reading(samples: list[Sample], *, model: str) -> Reading:
    values = dict.fromkeys(_FIELDS.values(), 0.0)
    for sample in samples:
        problem = counter_problem(sample)
        if problem:
            return Reading(
                series=series_name("tgi"),
                model=model,
                mode="counter",
                error=f"Refused {problem}.",
            )
        values[_FIELDS[sample.name.removesuffix("_total")]] += sample.value
    return Reading(
        series=series_name("tgi"),
        model=model,
        mode="counter",
        requests=round(values["requests"]),
        input_tokens=round(values["input_tokens"]),
        output_tokens=round(values["output_tokens"]),
    )
