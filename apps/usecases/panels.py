"""Panels that apps to the right (framework, reviews, endpoints) add to the detail page.

The detail page loads each panel with htmx from the app's own URL, so usecases never
imports those apps. Register in `AppConfig.ready()`.
"""

from __future__ import annotations

from dataclasses import dataclass


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
