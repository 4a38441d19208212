"""Usage collectors, one module per serving-endpoint kind, behind one interface.

>>> from apps.endpoints.collectors import get_collector
>>> collector = get_collector("vllm")
>>> readings = collector.collect(client, base_url=url, api_key=None,
...                              since=since, until=until)  # doctest: +SKIP

See :mod:`apps.endpoints.collectors.base` for :class:`Reading` and the rules
for storing counter and bucket readings.
"""

from __future__ import annotations

from apps.endpoints.collectors.anthropic import AnthropicCollector
from apps.endpoints.collectors.base import (
    BaseCollector,
    Collector,
    CollectorError,
    ProbeReport,
    Reading,
)
from apps.endpoints.collectors.litellm import LiteLLMCollector
from apps.endpoints.collectors.openai import OpenAICollector
from apps.endpoints.collectors.openai_compatible import OpenAICompatibleCollector
from apps.endpoints.collectors.tgi import TgiCollector
from apps.endpoints.collectors.vllm import VllmCollector

__all__ = [
    "COLLECTORS",
    "KINDS",
    "BaseCollector",
    "Collector",
    "CollectorError",
    "ProbeReport",
    "Reading",
    "UnknownKind",
    "get_collector",
]

COLLECTORS: dict[str, Collector] = {
    collector.kind: collector
    for collector in (
        VllmCollector(),
        TgiCollector(),
        LiteLLMCollector(),
        OpenAICollector(),
        AnthropicCollector(),
        OpenAICompatibleCollector(),
    )
}
#: Every endpoint kind with a collector, in a stable order.
KINDS: tuple[str, ...] = tuple(COLLECTORS)


class UnknownKind(LookupError):
    """No collector exists for this endpoint kind."""


def get_collector(kind: str) -> Collector:
    """Return the collector for an endpoint ``kind`` (e.g. ``"vllm"``)."""
    try:
        return COLLECTORS[kind]
    except KeyError:
        raise UnknownKind(f"No collector for endpoint kind {kind!r}.") from None
