"""``?format=csv`` for lists a spreadsheet user wants.

A resource opts in with :class:`CSVListMixin` (CSV on its ``list`` action only)
or by adding :class:`CSVRenderer` to ``renderer_classes``. Nested objects become
dotted columns (``decision.outcome``), lists of objects indexed ones
(``workloads.0.task_type``), lists of plain values one cell joined with ``"; "``.
A paginated body becomes one row per result; the page links go in a ``Link``
header and the total in ``X-Total-Count`` so nothing is lost.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

from rest_framework.renderers import BaseRenderer

LIST_SEPARATOR = "; "
# A cell starting with one of these is a formula to a spreadsheet; a leading
# apostrophe keeps user-written text (titles, comments) inert.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"[+-]?\d+(\.\d+)?([eE][+-]?\d+)?")  # DRF sends decimals as text


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """One flat ``{column: cell}`` dict for one serialized object."""
    if isinstance(value, Mapping):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, list | tuple):
        if any(isinstance(item, Mapping | list | tuple) for item in value):
            flat = {}
            for index, item in enumerate(value):
                flat.update(flatten(item, f"{prefix}.{index}"))
            return flat
        return {prefix: LIST_SEPARATOR.join(_cell(item) for item in value)}
    return {prefix: value}


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if (
        isinstance(value, str)
        and text.startswith(FORMULA_TRIGGERS)
        and not NUMBER.fullmatch(text)
    ):
        return "'" + text
    return text


def rows_of(data: Any) -> list[Any]:
    """The objects a body holds: a page's results, a list, or one object."""
    if isinstance(data, Mapping) and isinstance(data.get("results"), list):
        return data["results"]
    if isinstance(data, list):
        return data
    return [data]


def to_csv(items: Iterable[Any]) -> str:
    flat_rows = [
        flatten(item) if isinstance(item, Mapping) else {"value": item}
        for item in items
    ]
    columns: dict[str, None] = {}  # first-seen order, no duplicates
    for row in flat_rows:
        columns.update(dict.fromkeys(row))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in flat_rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue()


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):  # type: ignore[no-untyped-def]
        if data is None:
            return b""
        response = (renderer_context or {}).get("response")
        if response is not None and isinstance(data, Mapping) and "results" in data:
            links = [
                f'<{data[rel]}>; rel="{rel}"'
                for rel in ("next", "previous")
                if data.get(rel)
            ]
            if links:
                response["Link"] = ", ".join(links)
            if data.get("count") is not None:
                response["X-Total-Count"] = str(data["count"])
        view = (renderer_context or {}).get("view")
        if response is not None and getattr(view, "basename", None):
            response["Content-Disposition"] = (
                f'attachment; filename="{view.basename}.csv"'
            )
        # Excel opens UTF-8 correctly only with the byte-order mark.
        return ("\ufeff" + to_csv(rows_of(data))).encode(self.charset)


class CSVListMixin:
    """Adds ``?format=csv`` (or ``Accept: text/csv``) to a viewset's ``list``."""

    csv_actions: tuple[str, ...] = ("list",)

    def get_renderers(self):  # type: ignore[no-untyped-def]
        renderers = super().get_renderers()  # type: ignore[misc]
        # No action: a method the route does not map, which must answer 405 (as
        # JSON), not the 404 of a format nobody renders.
        action = getattr(self, "action", None)
        if action is None or action in self.csv_actions:
            renderers.append(CSVRenderer())
        return renderers
