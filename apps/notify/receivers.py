"""The receiver of `apps.core.events.portal_event`."""

from __future__ import annotations

import logging
from typing import Any

from apps.core.events import Event

from .services import record_event

logger = logging.getLogger(__name__)


def on_portal_event(sender: Any, *, event: Event, **kwargs: Any) -> None:
    """Record ``event`` for its people and channels.

    It runs after the emitter's transaction has committed: a failure here must
    not surface as the emitter's (the review was saved), so it is logged instead.
    """
    try:
        record_event(event=event)
    except Exception:
        logger.exception("Could not record event %s (%s)", event.key, event.kind)
