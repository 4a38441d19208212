"""Demo decisions and comments on the use-cases the usecases seed already moved.

The seed's transitions are the real record; each decision here is attached to the
transition that made it, so the trail reads as if the board had used the form.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import User
from apps.usecases.models import Transition, UseCase

from . import assessments
from .models import Comment, Condition, Decision

DECISIONS: list[dict[str, Any]] = [
    {
        "title": "Supplier contract clause extraction",
        "outcome": Decision.Outcome.APPROVED,
        "pattern": "proprietary_api",
        "chosen_models": ["GPT-4.1 mini"],
        "conditions": [
            "Zero-data-retention terms signed with the provider before launch",
            "Re-review at 50,000 requests a day",
        ],
        "overrule_reason": "No ML-ops capability in Finance; the managed API is the "
        "only option the team can run this year.",
    },
    {
        "title": "Customer email router",
        "outcome": Decision.Outcome.APPROVED,
        "pattern": "hybrid",
        "chosen_models": ["Llama 3.1 8B Instruct (self-hosted)", "GPT-4o"],
        "conditions": [
            "Route only complaint replies (about 15%) to the proprietary API",
            "Fine-tune the 8B classifier on last year's labelled email before launch",
        ],
        "overrule_reason": "The board prefers the routed design: classification "
        "in-house, reasoning on a proprietary API.",
    },
    {
        "title": "Iwi partnership insights",
        "outcome": Decision.Outcome.CHANGES_REQUESTED,
        "pattern": "",
        "chosen_models": [],
        "conditions": ["Data governance agreement with the iwi partners attached"],
        "overrule_reason": "",
    },
    {
        "title": "Pull-request review helper",
        "outcome": Decision.Outcome.REJECTED,
        "pattern": "",
        "chosen_models": [],
        "conditions": [],
        "overrule_reason": "",
    },
]

COMMENTS: list[tuple[str, str, str, bool]] = [
    # title, author, body, internal
    (
        "Iwi partnership insights",
        "board",
        "@tama thanks for this. Before we go further we need the governance terms "
        "agreed with the iwi partners, and who reviews the summaries.",
        False,
    ),
    (
        "Iwi partnership insights",
        "tama",
        "Understood. The kaitiaki group meets next week; I will attach their terms.",
        False,
    ),
    (
        "Discharge summary drafting",
        "board",
        "Restricted health data: self-hosted only. Check with the privacy office "
        "how long the clinical notes may be kept in prompt logs.",
        True,
    ),
    (
        "Discharge summary drafting",
        "board",
        "@hana could you confirm every draft is signed off by a clinician?",
        False,
    ),
    (
        "Customer email router",
        "sam",
        "We have 40,000 labelled emails from last year for fine-tuning.",
        False,
    ),
]


def seed(users: dict[str, User]) -> None:
    board = users["board"]
    for spec in DECISIONS:
        use_case = UseCase.objects.filter(title=spec["title"]).first()
        if use_case is None or use_case.decisions.exists():
            continue
        transition = (
            Transition.objects.filter(use_case=use_case, to_status=spec["outcome"])
            .filter(~Q(decision__isnull=False))
            .last()
        )
        if transition is None:
            continue
        recommended = assessments.recommended_pattern(use_case)
        overrules = bool(
            spec["pattern"] and recommended and spec["pattern"] != recommended
        )
        decision = Decision.objects.create(
            use_case=use_case,
            transition=transition,
            outcome=spec["outcome"],
            pattern=spec["pattern"],
            recommended_pattern=recommended,
            overrule_reason=spec["overrule_reason"] if overrules else "",
            chosen_models=spec["chosen_models"],
            conditions=spec["conditions"],
            comment=transition.comment,
            decided_by=transition.actor or board,
        )
        if decision.outcome == Decision.Outcome.APPROVED:
            _condition_tasks(decision)
    for title, author, body, internal in COMMENTS:
        use_case = UseCase.objects.filter(title=title).first()
        if use_case is None or use_case.review_comments.filter(body=body).exists():
            continue
        Comment.objects.create(
            use_case=use_case, author=users[author], body=body, internal=internal
        )


def _condition_tasks(decision: Decision) -> None:
    """Tasks for the demo's conditions: the first was due last week (overdue once
    the hourly task runs), the others next quarter; "before launch" ones gate
    going live."""
    today = timezone.localdate()
    for i, text in enumerate(decision.conditions):
        Condition.objects.create(
            use_case=decision.use_case,
            decision=decision,
            text=text,
            owner=decision.use_case.owner,
            due_date=today + datetime.timedelta(days=-7 if i == 0 else 90),
            before_go_live="before launch" in text,
        )


def seed_demo(context: dict) -> None:
    seed(context["users"])
