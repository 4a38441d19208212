"""The targeted Prometheus reader, checked against prometheus_client's parser."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from apps.endpoints.collectors import CollectorError
from apps.endpoints.collectors.prometheus import (
    Sample,
    counter_problem,
    parse_samples,
)
from apps.endpoints.collectors.tgi import _NAMES as TGI_NAMES
from apps.endpoints.collectors.vllm import _NAMES as VLLM_NAMES
from tests.servers import FIXTURES

PREFIXES = ("vllm:", "tgi_", "http_")
METRIC_FIXTURES = sorted(FIXTURES.glob("*.txt"))

Key = tuple[str, tuple[tuple[str, str], ...], str]


def _key(name: str, labels: dict[str, str], value: float) -> Key:
    # prometheus_client renames a counter sample written without _total (TGI's)
    # to name_total, so compare names without the suffix.
    shown = "NaN" if math.isnan(value) else repr(float(value))
    return (name.removesuffix("_total"), tuple(sorted(labels.items())), shown)


def reference(text: str, wanted: set[str] | None = None) -> Counter[Key]:
    """prometheus_client's samples of the wanted names (or PREFIXES)."""
    keys: Counter[Key] = Counter()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            base = s.name.removesuffix("_total")
            if wanted is None:
                if s.name.startswith(PREFIXES):
                    keys[_key(s.name, s.labels, s.value)] += 1
            elif base in wanted:
                keys[_key(s.name, s.labels, s.value)] += 1
    return keys


def ours(samples: list[Sample]) -> Counter[Key]:
    return Counter(_key(s.name, s.labels, s.value) for s in samples)


def test_the_fixture_set_has_every_recorded_page() -> None:
    names = {path.name for path in METRIC_FIXTURES}
    assert {
        "vllm_metrics.txt",
        "vllm_metrics_dp4.txt",
        "vllm_metrics_multiproc.txt",
        "tgi_metrics.txt",
        "tgi_metrics_fresh.txt",
    } <= names


@pytest.mark.parametrize("path", METRIC_FIXTURES, ids=lambda path: path.name)
def test_it_reads_the_same_samples_as_prometheus_client_on_every_fixture(
    path: Path,
) -> None:
    text = path.read_text(encoding="utf-8")
    assert ours(parse_samples(text, prefixes=PREFIXES, where="x")) == reference(text)


@pytest.mark.parametrize("path", METRIC_FIXTURES, ids=lambda path: path.name)
def test_it_reads_the_adapters_exact_names_as_prometheus_client_does(
    path: Path,
) -> None:
    text = path.read_text(encoding="utf-8")
    names = set(VLLM_NAMES | TGI_NAMES)
    wanted = {name.removesuffix("_total") for name in names}
    assert ours(parse_samples(text, names=names, where="x")) == reference(text, wanted)


def test_it_reads_escaped_labels_timestamps_and_special_values() -> None:
    text = (
        "# HELP m_total a help line with a } and a \\n\n"
        "# TYPE m_total counter\n"
        'm_total{model="a \\"quoted\\", b\\\\c {x}",engine="0"} 12.0 1754035200000\n'
        'm_total{model="nan-model",} NaN\n'
        "m_total +Inf\n"
        "m_totally 7\n"
        '  m_total{model="indented"}\t3e+00\n'
    )
    samples = parse_samples(text, names={"m_total"}, where="x")

    assert [(s.labels, s.raw) for s in samples] == [
        ({"model": 'a "quoted", b\\c {x}', "engine": "0"}, "12.0"),
        ({"model": "nan-model"}, "NaN"),
        ({}, "+Inf"),
        ({"model": "indented"}, "3e+00"),
    ]
    assert samples[0].value == 12.0
    assert math.isnan(samples[1].value)
    assert samples[2].value == math.inf
    assert samples[3].value == 3.0


def test_a_non_numeric_value_is_kept_for_the_adapter_to_refuse() -> None:
    text = 'c_total{m="a"} 5\nc_total{m="b"} lots\nc_total{m="c"} 1_000\n'
    good, bad, underscored = parse_samples(text, names={"c_total"}, where="x")

    assert counter_problem(good) is None
    assert counter_problem(bad) == "c_total{m=\"b\"} is 'lots', not a number"
    assert counter_problem(underscored) == ("c_total{m=\"c\"} is '1_000', not a number")


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("-3.0", 'c_total{m="a"} is -3.0, a negative count'),
        ("NaN", 'c_total{m="a"} is NaN, not a finite count'),
        ("+Inf", 'c_total{m="a"} is +Inf, not a finite count'),
        ("1e300", 'c_total{m="a"} is 1e300, too large to count exactly'),
    ],
)
def test_it_names_the_metric_and_value_of_a_counter_that_cannot_count(
    raw: str, problem: str
) -> None:
    [sample] = parse_samples(f'c_total{{m="a"}} {raw}\n', names={"c_total"}, where="x")
    assert counter_problem(sample) == problem


@pytest.mark.parametrize(
    "line",
    ['c_total{m="a} 5', "c_total{m=a} 5", 'c_total{m="a",m="b"} 5', "c_total"],
)
def test_a_line_whose_series_cannot_be_read_makes_the_page_invalid(
    line: str,
) -> None:
    with pytest.raises(CollectorError, match="not a valid Prometheus exposition"):
        parse_samples(line + "\n", names={"c_total"}, where="http://x/metrics")


def test_lines_of_other_metrics_are_not_read_at_all() -> None:
    # A broken line of a family the adapter does not want cannot fail the page.
    text = 'other_bucket{le="1" 3\nwanted_total 4\n'
    [sample] = parse_samples(text, names={"wanted_total"}, where="x")
    assert sample.value == 4.0


# Generated expositions, written as prometheus_client writes them.

_label_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"),
    max_size=12,
)
_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=0, max_value=2**53),
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    return repr(value)


@st.composite
def expositions(draw: st.DrawFn) -> str:
    lines = []
    for index in range(draw(st.integers(min_value=1, max_value=4))):
        name = f"vllm:m{index}_" + draw(st.sampled_from(["total", "created", "sum"]))
        if draw(st.booleans()):
            lines.append(f"# HELP {name} " + _escape(draw(_label_values)))
        lines.append(f"# TYPE {name} " + draw(st.sampled_from(["counter", "gauge"])))
        for _ in range(draw(st.integers(min_value=0, max_value=4))):
            labels = draw(
                st.dictionaries(
                    st.sampled_from(["model_name", "engine", "le", "x"]),
                    _label_values,
                    max_size=3,
                )
            )
            pairs = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            line = f"{name}{{{pairs}}} {_number(draw(_values))}"
            if draw(st.booleans()):
                line += f" {draw(st.integers(min_value=0, max_value=2**41))}"
            lines.append(line)
    return "\n".join(lines) + "\n"


@settings(max_examples=150, deadline=None)
@given(expositions())
def test_it_agrees_with_prometheus_client_on_generated_expositions(
    text: str,
) -> None:
    assert ours(parse_samples(text, prefixes=("vllm:",), where="x")) == reference(text)
