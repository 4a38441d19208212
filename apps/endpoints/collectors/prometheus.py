"""Reading counters out of a Prometheus text exposition (``/metrics``).

Shared by the vLLM and TGI collectors. Only the lines of the wanted metrics reach
``prometheus_client``'s parser: a vLLM ``/metrics`` page is mostly histogram
buckets, and filtering first makes parsing many times cheaper.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from apps.endpoints.collectors.base import CollectorError

__all__ = ["Sample", "parse_samples"]


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample line: metric name (with suffix), labels and value."""

    name: str
    labels: dict[str, str]
    value: float


def parse_samples(text: str, *, prefixes: Iterable[str], where: str) -> list[Sample]:
    """Parse the samples whose metric name starts with one of ``prefixes``."""
    wanted = tuple(prefixes)
    lines = [line for line in text.splitlines() if _wanted(line.strip(), wanted)]
    try:
        return [
            Sample(name=s.name, labels=dict(s.labels), value=float(s.value))
            for family in text_string_to_metric_families("\n".join(lines) + "\n")
            for s in family.samples
        ]
    except Exception as exc:  # the parser raises bare ValueErrors and worse
        raise CollectorError(
            f"{where} is not a valid Prometheus exposition ({type(exc).__name__})."
        ) from None


def _wanted(line: str, prefixes: tuple[str, ...]) -> bool:
    if line.startswith(("# HELP ", "# TYPE ")):
        return line[7:].startswith(prefixes)
    return line.startswith(prefixes)
