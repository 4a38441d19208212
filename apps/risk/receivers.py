"""Signal receivers, connected in RiskConfig.ready()."""

from __future__ import annotations

from typing import Any

from apps.usecases.models import UseCase

from . import services


def open_stages_on_submit(
    sender: Any, *, use_case: UseCase, transition: Any, by: Any, **kwargs: Any
) -> None:
    """Each submission opens the approval stages the policy requires.

    Connected after the framework's receiver (app order), so the finance stage
    sees the cost of the assessment made for this submission.
    """
    if transition.to_status == UseCase.Status.SUBMITTED:
        services.open_stages(use_case=use_case)
