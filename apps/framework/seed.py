"""Policy version 1 (the engine's defaults), so demo assessments name a version."""

from __future__ import annotations

from .models import Policy


def seed_demo(context: dict) -> None:
    context["policy"] = Policy.objects.current()
