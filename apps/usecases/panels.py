"""What apps to the right (framework, reviews, endpoints) add to the use-case pages.

Panels on the detail page, and annotated columns on the lists.

The detail page loads each panel with htmx from the app's own URL, so usecases never
imports those apps. Register in `AppConfig.ready()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Panel:
    title: str
    url_name: str  # reversed with the use-case's pk
    order: int = 100


_PANELS: dict[str, Panel] = {}


def register_panel(panel: Panel) -> None:
    _PANELS[panel.url_name] = panel


def panels() -> list[Panel]:
    return sorted(_PANELS.values(), key=lambda p: (p.order, p.title))


# Columns that apps to the right add to the use-case lists: each function annotates
# the list's QuerySet (in SQL, so the list's query count stays the same).
_LIST_ANNOTATIONS: dict[str, Callable[[Any], Any]] = {}


def register_list_annotation(name: str, annotate: Callable[[Any], Any]) -> None:
    _LIST_ANNOTATIONS[name] = annotate


def annotate_for_list(queryset: Any) -> Any:
    for annotate in _LIST_ANNOTATIONS.values():
        queryset = annotate(queryset)
    return queryset
