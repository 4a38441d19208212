"""Plotly figures for the endpoint pages, built in Python and sent as JSON."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go


def usage_figure(
    rows: Iterable[dict[str, Any]], *, start: date, end: date
) -> dict[str, Any]:
    """Daily requests stacked by use-case, with the day's spend as a line.

    ``rows`` have ``date``, ``label``, ``requests`` and ``cost``.
    """
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    requests: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    cost: dict[date, Decimal] = defaultdict(Decimal)
    for row in rows:
        requests[row["label"]][row["date"]] += int(row["requests"] or 0)
        cost[row["date"]] += row["cost"] or Decimal(0)
    x = [day.isoformat() for day in days]
    figure = go.Figure()
    for label in sorted(requests):
        figure.add_bar(name=label, x=x, y=[requests[label].get(day, 0) for day in days])
    figure.add_scatter(
        name="Spend (USD)",
        x=x,
        y=[float(cost.get(day, 0)) for day in days],
        yaxis="y2",
        mode="lines+markers",
        line={"color": "#444"},
    )
    figure.update_layout(
        barmode="stack",
        height=340,
        margin={"l": 50, "r": 50, "t": 10, "b": 40},
        legend={"orientation": "h", "y": -0.2},
        yaxis={"title": {"text": "Requests a day"}, "rangemode": "tozero"},
        yaxis2={
            "title": {"text": "USD a day"},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
        },
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
    )
    return json.loads(figure.to_json())
