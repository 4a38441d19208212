"""Signal receivers, connected in FrameworkConfig.ready()."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from apps.usecases.models import UseCase

from . import services
from .catalogue import CatalogueMissing
from .models import Trigger

logger = logging.getLogger(__name__)


def assess_on_submit(
    sender: Any, *, use_case: UseCase, transition: Any, by: Any, **kwargs: Any
) -> None:
    """Each submission gets an assessment (when the answer is new).

    Runs inside the transition's transaction; a savepoint keeps a failed
    assessment from undoing the submission itself.
    """
    if transition.to_status != UseCase.Status.SUBMITTED:
        return
    try:
        with transaction.atomic():
            services.assess_use_case(use_case=use_case, trigger=Trigger.SUBMIT, by=by)
    except CatalogueMissing:
        logger.warning("use-case %s submitted with no catalogue loaded", use_case.pk)
    except Exception:
        logger.exception("assessing use-case %s on submit failed", use_case.pk)


def reassess_on_price_change(
    sender: Any, *, snapshot: Any, reason: str = "", **kwargs: Any
) -> None:
    """Prices or models changed (sent after commit): re-assess the portfolio."""
    try:
        report = services.reassess_all(trigger=Trigger.PRICES_CHANGED)
    except CatalogueMissing:
        return
    logger.info(
        "prices changed (%s): %d use-cases checked, %d re-assessed",
        reason,
        report.checked,
        len(report.created),
    )
