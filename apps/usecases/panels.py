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
    # Whether ``visible(user, use_case)`` may open the panel: a page shows no link
    # its reader would be refused. None: whoever sees the use-case.
    visible: Callable[[Any, Any], bool] | None = None


_PANELS: dict[str, Panel] = {}


def register_panel(panel: Panel) -> None:
    _PANELS[panel.url_name] = panel


def panels(user: Any = None, use_case: Any = None) -> list[Panel]:
    """The registered panels in order; with a user and use-case, those they may open."""
    found = sorted(_PANELS.values(), key=lambda p: (p.order, p.title))
    if user is None:
        return found
    return [p for p in found if p.visible is None or p.visible(user, use_case)]


# Columns that apps to the right add to the use-case lists: each function annotates
# the list's QuerySet (in SQL, so the list's query count stays the same).
_LIST_ANNOTATIONS: dict[str, Callable[[Any], Any]] = {}


def register_list_annotation(name: str, annotate: Callable[[Any], Any]) -> None:
    _LIST_ANNOTATIONS[name] = annotate


def annotate_for_list(queryset: Any) -> Any:
    for annotate in _LIST_ANNOTATIONS.values():
        queryset = annotate(queryset)
    return queryset


@dataclass(frozen=True)
class NextStep:
    """The banner that opens a use-case page: whose move it is and what to do."""

    title: str  # "Your move: the board asked for changes"
    lines: tuple[str, ...] = ()  # what was asked, in the asker's words
    items: tuple[str, ...] = ()  # open conditions, a list under the lines
    action: tuple[str, str] | None = None  # (label, url)
    yours: bool = False  # the reader is the one to act


# Apps to the right know more of the story (the board's words, the routes): each
# registers a function (user, use_case) -> NextStep | None; the lowest order that
# answers wins, and this app's own (order 1000) answers last.
_NEXT_STEPS: list[tuple[int, Callable[[Any, Any], NextStep | None]]] = []


def register_next_step(order: int, provider: Callable[[Any, Any], NextStep | None]):  # type: ignore[no-untyped-def]
    if (order, provider) not in _NEXT_STEPS:
        _NEXT_STEPS.append((order, provider))
        _NEXT_STEPS.sort(key=lambda pair: pair[0])


def next_step(user: Any, use_case: Any) -> NextStep | None:
    for _order, provider in _NEXT_STEPS:
        step = provider(user, use_case)
        if step is not None:
            return step
    return None
