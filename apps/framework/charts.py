"""The cost-curve chart: a plotly figure built in Python, drawn by plotly.js."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

COLOURS = {
    "proprietary_api": "#1f6feb",
    "open_source_managed": "#8250df",
    "open_source_self_hosted": "#1a7f37",
    "open_source_self_hosted_gpu_only": "#1a7f37",
}


def cost_figure(
    curves: list[dict[str, Any]], *, requests_per_day: float | None, break_even: Any
) -> dict[str, Any] | None:
    """Monthly cost of each option against requests a day, the use-case's own
    volume and the break-even marked; None when there is nothing to draw."""
    if not curves:
        return None
    figure = go.Figure()
    for curve in curves:
        option = curve["option"]
        stepped = option.startswith("open_source_self_hosted")
        figure.add_trace(
            go.Scatter(
                x=curve["requests_per_day"],
                y=curve["monthly_cost"],
                name=curve["label"],
                mode="lines",
                line={
                    "color": COLOURS.get(option, "#57606a"),
                    "dash": "dot" if option.endswith("_gpu_only") else "solid",
                    "shape": "hv" if stepped else "linear",
                    "width": 2,
                },
                hovertemplate="%{x:,.0f} a day: $%{y:,.0f} a month<extra>%{fullData.name}</extra>",
            )
        )
    if requests_per_day:
        figure.add_vline(
            x=requests_per_day,
            line={"color": "#cf222e", "dash": "dash", "width": 2},
            annotation_text=f"this use-case: {requests_per_day:,.0f} a day",
            annotation_position="top right",
        )
    point = (
        (break_even or {}).get("fully_loaded") if isinstance(break_even, dict) else None
    )
    top = max((max(c["requests_per_day"] or [0]) for c in curves), default=0)
    if point and point <= top:
        figure.add_vline(
            x=point,
            line={"color": "#57606a", "dash": "dot", "width": 1},
            annotation_text=f"break-even {point:,.0f}",
            annotation_position="bottom right",
        )
    figure.update_layout(
        template="none",
        height=380,
        margin={"l": 70, "r": 20, "t": 30, "b": 50},
        xaxis={
            "title": {"text": "Requests a day"},
            "rangemode": "tozero",
            "tickformat": ",.0f",
        },
        yaxis={
            "title": {"text": "USD a month"},
            "rangemode": "tozero",
            "tickprefix": "$",
            "tickformat": ",.0f",
        },
        legend={"orientation": "h", "y": -0.25},
        hovermode="x unified",
        font={"family": "system-ui, sans-serif", "size": 12},
    )
    return figure.to_plotly_json()
