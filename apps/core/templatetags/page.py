"""Tags the shared layout needs: which plotly.js bundle to load."""

from django import template
from django.conf import settings
from django.templatetags.static import static

register = template.Library()


@register.simple_tag
def plotly_src() -> str:
    """The URL of the plotly.js bundle settings.PLOTLY_JS names (basic or full)."""
    return static(settings.PLOTLY_JS)


def _number(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


@register.filter
def figure_table(figure: dict | None) -> dict | None:  # type: ignore[type-arg]
    """A plotly figure's numbers as a table (the chart's text alternative): one row
    a category (pie label, bar or x value), one column a trace."""
    if not figure:
        return None
    columns: list[str] = []
    cells: dict[str, dict[str, str]] = {}
    for i, trace in enumerate(figure.get("data") or []):
        if "labels" in trace:
            keys, values = trace.get("labels") or [], trace.get("values") or []
        elif trace.get("orientation") == "h":
            keys, values = trace.get("y") or [], trace.get("x") or []
        else:
            keys, values = trace.get("x") or [], trace.get("y") or []
        name = str(trace.get("name") or f"Series {i + 1}")
        columns.append(name)
        for key, value in zip(keys, values, strict=False):
            cells.setdefault(str(key), {})[name] = _number(value)
    if not cells:
        return None
    rows = [(key, [row.get(c, "") for c in columns]) for key, row in cells.items()]
    return {"columns": columns, "rows": rows[:200]}
