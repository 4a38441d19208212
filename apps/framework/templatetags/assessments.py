"""Filters and tags for rendering assessments: `{% load assessments %}`."""

from __future__ import annotations

from typing import Any

from django import template

from ..charts import cost_figure
from ..diff import OPTION_TITLES, STEP_TITLES
from ..models import Outcome

register = template.Library()


@register.filter
def outcome_label(value: str) -> str:
    try:
        return str(Outcome(value).label)
    except ValueError:
        return str(value or "")


@register.filter
def option_label(value: str) -> str:
    return OPTION_TITLES.get(value, str(value).replace("_", " "))


@register.filter
def step_title(value: str) -> str:
    return STEP_TITLES.get(value, str(value).replace("_", " ").capitalize())


@register.filter
def verdict_label(value: str) -> str:
    text = str(value or "").replace("_", " ")
    return text[:1].upper() + text[1:]


@register.filter
def usd(value: Any) -> str:
    """$12,345 for large sums, $12.34 below $100, cents kept for tiny ones."""
    if value is None or value == "":
        return "—"
    amount = float(value)
    if abs(amount) >= 100:
        return f"${amount:,.0f}"
    if abs(amount) >= 0.01 or amount == 0:
        return f"${amount:,.2f}"
    return f"${amount:.4g}"


@register.filter
def per_day(value: Any) -> str:
    if value is None or value == "":
        return "never"
    return f"{float(value):,.0f}"


@register.simple_tag
def cost_chart(
    result: dict[str, Any], curves: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The plotly figure for a result and its cost curves (pass to json_script)."""
    costs = (result or {}).get("costs") or {}
    return cost_figure(
        curves or [],
        requests_per_day=costs.get("requests_per_day"),
        break_even=(result or {}).get("break_even"),
    )


@register.filter
def usd_per_thousand(value: Any) -> str:
    """A per-request cost shown per 1,000 requests, which reads better."""
    if value is None or value == "":
        return "—"
    return usd(float(value) * 1000)
