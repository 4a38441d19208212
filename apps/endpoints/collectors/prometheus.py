"""Reading a few counters out of a Prometheus text exposition (``/metrics``).

Shared by the vLLM and TGI collectors. A vLLM page is mostly histogram buckets
that usage never needs, so this reader does not parse the page: it looks up the
lines of the wanted metric names (C-speed substring search) and parses only
those. It follows the text format 0.0.4 as ``prometheus_client`` reads it:
escaped label values (``\\\\``, ``\\"``, ``\\n``), ``NaN`` and ``±Inf``, a
timestamp after the value, ``# HELP``/``# TYPE`` and other comments skipped.
Names are returned as written (``foo_total``, ``foo_created``); note that
``prometheus_client`` itself renames a counter sample written without
``_total`` (TGI's) to ``…_total``.

A sample whose value is not a number does not fail the page: it comes back with
``value`` NaN and the text in ``raw``, so the adapter refuses that series alone
(:func:`counter_problem`). A line whose name or labels cannot be read at all
makes the page invalid, since its series cannot be told.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass

from apps.endpoints.collectors.base import CollectorError

__all__ = ["Sample", "counter_problem", "parse_samples"]

#: Counters above 2**53 are no longer exact in a float, so cannot be billed.
MAX_COUNTER = float(2**53)

_SAMPLE = re.compile(
    r"(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)"
    r"(?:[ \t]*\{(?P<labels>(?:[^\"{}]|\"(?:[^\"\\]|\\.)*\")*)\}[ \t]*|[ \t]+)"
    r"(?P<value>\S+)(?:[ \t]+(?P<timestamp>\S+))?"
    r"(?:[ \t]+#.*)?[ \t]*"  # an OpenMetrics exemplar, ignored
)
_LABEL = re.compile(
    r"[ \t]*(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"
    r"\"(?P<value>(?:[^\"\\]|\\.)*)\"[ \t]*(?:,|$)"
)
_INDENTED = re.compile(r"\n[ \t]")
_ESCAPE = re.compile(r"\\(.)")
_UNESCAPED = {"\\": "\\", "n": "\n", '"': '"'}


@dataclass(frozen=True, slots=True)
class Sample:
    """One sample line: metric name (with suffix), labels and value.

    ``value`` is NaN when the line's value is not a number; ``raw`` is the
    value as written, for error messages.
    """

    name: str
    labels: dict[str, str]
    value: float
    raw: str = ""


def parse_samples(
    text: str,
    *,
    names: Collection[str] = (),
    prefixes: Iterable[str] = (),
    where: str,
) -> list[Sample]:
    """The samples named exactly one of ``names`` or starting with a ``prefixes``.

    Raises :class:`CollectorError` only when a wanted line cannot be read at all;
    a bad value is left to the adapter (see :func:`counter_problem`).
    """
    samples = []
    for line in _wanted_lines(text, tuple(names), tuple(prefixes)):
        sample = _parse_line(line)
        if sample is None:
            raise CollectorError(
                f"{where} is not a valid Prometheus exposition: cannot read "
                f"{_shorten(line)!r}."
            )
        samples.append(sample)
    return samples


def counter_problem(sample: Sample) -> str | None:
    """Why ``sample`` cannot be a cumulative count, or None when it can."""
    value = sample.value
    if math.isnan(value) and sample.raw.lower() != "nan":
        return f"{_label_text(sample)} is {sample.raw!r}, not a number"
    if not math.isfinite(value):
        return f"{_label_text(sample)} is {sample.raw}, not a finite count"
    if value < 0:
        return f"{_label_text(sample)} is {sample.raw}, a negative count"
    if value > MAX_COUNTER:
        return f"{_label_text(sample)} is {sample.raw}, too large to count exactly"
    return None


def _wanted_lines(
    text: str, names: tuple[str, ...], prefixes: tuple[str, ...]
) -> Iterator[str]:
    indented = _has_indented_lines(text)
    for name in names:
        for line in _lines_starting(text, name, indented):
            # An exact name: the next character ends the name.
            if len(line) == len(name) or line[len(name)] in "{ \t":
                yield line
    for prefix in prefixes:
        yield from _lines_starting(text, prefix, indented)


def _has_indented_lines(text: str) -> bool:
    return text.startswith((" ", "\t")) or _INDENTED.search(text) is not None


def _lines_starting(text: str, start: str, indented: bool) -> Iterator[str]:
    """Lines of ``text`` that begin with ``start`` (leading blanks allowed)."""
    # str.find runs in C; splitting a 160 kB page into lines would not.
    needle = "\n" + start
    if text.startswith(start):
        begin = 0
    else:
        found = text.find(needle)
        begin = found + 1 if found != -1 else -1
    while begin != -1:
        end = text.find("\n", begin)
        if end == -1:
            end = len(text)
        yield text[begin:end].rstrip("\r")
        found = text.find(needle, end)
        begin = found + 1 if found != -1 else -1
    # Indented sample lines are legal but rare: looked for only on such a page.
    if indented:
        for match in re.finditer(
            rf"^[ \t]+{re.escape(start)}[^\n]*", text, flags=re.MULTILINE
        ):
            yield match.group(0).strip()


def _parse_line(line: str) -> Sample | None:
    match = _SAMPLE.fullmatch(line)
    if match is None:
        return None
    labels: dict[str, str] = {}
    body = match.group("labels")
    if body and body.strip():
        pos = 0
        while pos < len(body):
            label = _LABEL.match(body, pos)
            if label is None or label.end() == pos:
                return None
            name, value = label.group("name"), label.group("value")
            if name in labels:
                return None
            if "\\" in value:
                value = _ESCAPE.sub(_unescape, value)
            labels[name] = value
            pos = label.end()
    raw = match.group("value")
    return Sample(name=match.group("name"), labels=labels, value=_number(raw), raw=raw)


def _unescape(match: re.Match[str]) -> str:
    char = match.group(1)
    return _UNESCAPED.get(char, "\\" + char)


def _number(raw: str) -> float:
    if "_" in raw:  # float() would take "1_000"; the format does not
        return math.nan
    try:
        return float(raw)
    except ValueError:
        return math.nan


def _label_text(sample: Sample) -> str:
    if not sample.labels:
        return sample.name
    pairs = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
    return f"{sample.name}{{{pairs}}}"


def _shorten(line: str, limit: int = 120) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"
