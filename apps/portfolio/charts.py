"""Plotly figures for the portfolio, built in Python and sent with ``json_script``.

Each function returns ``fig.to_plotly_json()`` (plain lists and floats), or None
when there is nothing to draw, so the template shows an empty state instead.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from .queries import BudgetStatus, MonthlySeries, Overview, UseCaseRow

# One colour per outcome, the same on every chart.
OUTCOME_COLOURS = {
    "open_source_self_hosted": "#1f7a4d",
    "open_source_managed": "#6cbf8f",
    "proprietary_api": "#3d5a98",
    "hybrid": "#d9922e",
    "not_assessed": "#a0a4a8",
}


BASE_LAYOUT: dict[str, Any] = {
    "height": 340,
    "margin": {"l": 60, "r": 20, "t": 30, "b": 40},
    "legend": {"orientation": "h", "y": -0.15},
    "paper_bgcolor": "rgba(0,0,0,0)",
    "plot_bgcolor": "rgba(0,0,0,0)",
    "font": {"size": 12},
}


def _figure(traces: list[Any], **layout: Any) -> dict[str, Any]:
    # One constructor call: plotly validates the layout once, not per update.
    figure = go.Figure(data=traces, layout={**BASE_LAYOUT, **layout})
    return figure.to_plotly_json()


def allocation_figure(overview: Overview) -> dict[str, Any] | None:
    """Three donuts: use-cases by outcome by count, requests a day, monthly spend."""
    rows = [row for row in overview.allocation if row.use_cases]
    if not rows:
        return None
    labels = [row.label for row in rows]
    colours = [OUTCOME_COLOURS.get(row.outcome, "#888") for row in rows]
    panels = [
        ("Use-cases", [row.use_cases for row in rows]),
        ("Requests a day", [round(row.requests_per_day, 1) for row in rows]),
        ("Monthly spend (USD)", [float(row.monthly_spend) for row in rows]),
    ]
    traces, titles = [], []
    for i, (title, values) in enumerate(panels):
        left = i / 3
        traces.append(
            go.Pie(
                labels=labels,
                values=values,
                hole=0.5,
                marker={"colors": colours},
                sort=False,
                textinfo="percent",
                # Inside the ring: a label outside would be drawn over the title.
                textposition="inside",
                name=title,
                domain={"x": [left + 0.02, left + 1 / 3 - 0.02], "y": [0, 0.85]},
            )
        )
        titles.append(
            {
                "text": title,
                "x": left + 1 / 6,
                "y": 1.0,
                "xref": "paper",
                "yref": "paper",
                "showarrow": False,
                "font": {"size": 13},
            }
        )
    return _figure(traces, height=320, annotations=titles)


def monthly_figure(series: MonthlySeries, *, title: str) -> dict[str, Any] | None:
    """Spend a month, stacked by vendor or team."""
    if not series.series or not series.total:
        return None
    x = [month.strftime("%b %Y") for month in series.months]
    traces = [
        go.Bar(name=label, x=x, y=[float(v) for v in values])
        for label, values in series.series
    ]
    return _figure(
        traces,
        barmode="stack",
        yaxis={"title": {"text": "USD"}, "rangemode": "tozero"},
        title={"text": title, "font": {"size": 14}},
    )


def top_use_cases_figure(rows: list[UseCaseRow]) -> dict[str, Any] | None:
    if not rows:
        return None
    ordered = list(reversed(rows))
    bar = go.Bar(
        x=[float(row.period_cost) for row in ordered],
        y=[row.title for row in ordered],
        orientation="h",
        marker={"color": [OUTCOME_COLOURS.get(r.outcome, "#888") for r in ordered]},
        name="Spend",
    )
    return _figure(
        [bar],
        height=max(220, 34 * len(rows) + 60),
        xaxis={"title": {"text": "USD in the period"}, "rangemode": "tozero"},
        yaxis={"automargin": True},
        showlegend=False,
    )


def estimate_figure(rows: list[UseCaseRow]) -> dict[str, Any] | None:
    """The monthly estimate next to the last 30 days' actual spend."""
    rows = [row for row in rows if row.estimate is not None][:15]
    if not rows:
        return None
    x = [row.title for row in rows]
    traces = [
        go.Bar(
            name="Estimate (a month)",
            x=x,
            y=[float(row.estimate or 0) for row in rows],
            marker={"color": "#a0a4a8"},
        ),
        go.Bar(
            name="Actual (last 30 days)",
            x=x,
            y=[float(row.last30_cost) for row in rows],
            marker={"color": "#3d5a98"},
        ),
    ]
    return _figure(
        traces,
        barmode="group",
        yaxis={"title": {"text": "USD"}, "rangemode": "tozero"},
        xaxis={"automargin": True},
    )


def budget_figure(statuses: list[BudgetStatus]) -> dict[str, Any] | None:
    """Spent so far and forecast to month end against each budget."""
    if not statuses:
        return None
    labels = [status.budget.scope_label for status in statuses]
    traces = [
        go.Bar(
            name="Spent so far",
            x=labels,
            y=[float(s.spent) for s in statuses],
            marker={"color": "#3d5a98"},
        ),
        go.Bar(
            name="Forecast to month end",
            x=labels,
            y=[float(s.forecast - s.spent) for s in statuses],
            marker={"color": ["#c0392b" if s.alert else "#9db4e0" for s in statuses]},
        ),
        go.Scatter(
            name="Budget",
            x=labels,
            y=[float(s.amount) for s in statuses],
            mode="markers",
            marker={
                "symbol": "line-ew-open",
                "size": 40,
                "color": "#222",
                "line": {"width": 3},
            },
        ),
    ]
    return _figure(
        traces,
        barmode="stack",
        yaxis={"title": {"text": "USD this month"}, "rangemode": "tozero"},
    )


def overview_figures(overview: Overview) -> dict[str, dict[str, Any] | None]:
    return {
        "allocation": allocation_figure(overview),
        "vendor": monthly_figure(overview.by_vendor, title="Spend a month by vendor"),
        "team": monthly_figure(overview.by_team, title="Spend a month by team"),
        "top": top_use_cases_figure(overview.top_use_cases),
        "estimate": estimate_figure(overview.estimates),
        "budget": budget_figure(overview.budgets),
    }
