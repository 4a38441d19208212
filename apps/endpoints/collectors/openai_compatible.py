"""Any OpenAI-compatible server without a usage API (Ollama, llama.cpp, …)."""

from __future__ import annotations

from datetime import datetime

import httpx

from apps.endpoints.collectors.base import (
    BaseCollector,
    ProbeReport,
    Reading,
    bearer,
    check_window,
    model_ids,
    openai_api_base,
)

__all__ = ["OpenAICompatibleCollector"]


class OpenAICompatibleCollector(BaseCollector):
    """Collects nothing: these servers report usage only inside each response.

    The portal counts what it sent itself (the playground, test sets) from the
    ``usage`` object of each response. To count other traffic, route it through
    LiteLLM and register that instead. The probe lists ``/v1/models``.
    """

    kind = "openai_compatible"
    mode = "none"

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
        return []

    def _probe(
        self, client: httpx.Client, *, base_url: str, api_key: str | None
    ) -> ProbeReport:
        data = self.fetch_json(
            client,
            f"{openai_api_base(base_url)}/models",
            api_key=api_key,
            headers=bearer(api_key),
        )
        models = sorted(set(model_ids(data, "models")))
        return ProbeReport(
            ok=True, models=models, detail=f"The server lists {len(models)} models."
        )
