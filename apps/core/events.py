"""Events that people may be told about, raised by any app, delivered by `notify`.

Apps to the left of `notify` (usecases, risk, reviews, endpoints) cannot import it,
so they describe what happened as an `Event` and `emit` it; `notify` connects to
`portal_event` and decides who hears of it, on which channel, exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

from django.db import models, transaction
from django.dispatch import Signal


class EventKind(models.TextChoices):
    USE_CASE_SUBMITTED = "use_case_submitted", "Use-case submitted"
    CHANGES_REQUESTED = "changes_requested", "Changes requested"
    DECIDED = "decided", "Decision recorded"
    MENTIONED = "mentioned", "Mentioned in a comment"
    DRIFT_FLAGGED = "drift_flagged", "Live volume drifted from the assessment"
    BUDGET_FORECAST_OVER = "budget_forecast_over", "Budget forecast over"
    BUDGET_HARD_REACHED = "budget_hard_reached", "Hard budget reached"
    GATEWAY_REFUSALS_SPIKING = "gateway_refusals_spiking", "Gateway refusals spiking"
    ENDPOINT_FAILING = "endpoint_failing", "Endpoint failing"
    MODEL_DEPRECATION = "model_deprecation", "Chosen model nearing deprecation"
    # Risk and approvals
    STAGE_DECIDED = "stage_decided", "Approval stage decided"
    CONDITION_ASSIGNED = "condition_assigned", "Condition assigned"
    CONDITION_OVERDUE = "condition_overdue", "Condition overdue"
    INCIDENT_REPORTED = "incident_reported", "Incident reported"
    REVIEW_DUE = "review_due", "Periodic review due"
    # Model lifecycle
    UPGRADE_PROPOSED = "upgrade_proposed", "Model upgrade proposed"
    CONFORMANCE_FLAGGED = "conformance_flagged", "Traffic strays from the decision"


@dataclass(frozen=True)
class Event:
    """Something that happened, and whom it concerns.

    `key` makes delivery idempotent: the same key is delivered once per
    recipient and subscription however often it is emitted. `use_case_id`,
    when set, limits recipients to people who may see that use-case.
    """

    kind: str
    key: str
    title: str
    body: str = ""
    url: str = ""  # a path inside the portal, e.g. use_case.get_absolute_url()
    use_case_id: int | None = None
    team_id: int | None = None
    actor_id: int | None = None
    user_ids: tuple[int, ...] = ()  # named recipients: owner, mentioned, assignee
    roles: tuple[str, ...] = ()  # role audiences, e.g. ("board",)
    context: dict[str, object] = field(default_factory=dict)


portal_event = Signal()


def emit(event: Event) -> None:
    """Announce `event` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(portal_event.send, sender=Event, event=event))
