"""Use-cases with sensitive data, submitted for review, and complete risk answers."""

from __future__ import annotations

import pytest

from apps.core.events import portal_event
from apps.usecases.services import submit_use_case
from tests.factories import UseCaseFactory

SOVEREIGNTY = {
    "rangatiratanga": "The iwi authority decides on access.",
    "whakapapa": "Provenance recorded per record.",
    "whanaungatanga": "Benefits reported back to the iwi.",
    "kotahitanga": "Capability built with iwi analysts.",
    "manaakitanga": "Dignity review of outputs.",
    "kaitiakitanga": "Kaitiaki reviewer signs off each release.",
}
EVIDENCE = {
    "authority_holder": "Te Rūnanga o Example",
    "agreement_reference": "DSA-2026-014",
    "data_hosting": "in_house",
    "model_hosting": "aotearoa",
    "kaitiaki_reviewer": "Aroha Example",
}


def complete_answers(**overrides):  # type: ignore[no-untyped-def]
    answers = {
        "charter_likelihood": "occasional",
        "charter_impact": "moderate",
        "pia_reference": "PIA-2026-07",
        "sovereignty": dict(SOVEREIGNTY),
        "sovereignty_evidence": dict(EVIDENCE),
    }
    answers.update(overrides)
    return answers


@pytest.fixture
def sensitive(alice):  # type: ignore[no-untyped-def]
    """Alice's draft with health and Indigenous data (internal classification)."""
    return UseCaseFactory(
        owner=alice,
        title="Whānau health triage",
        special_categories=["health", "indigenous"],
        requests_per_day=500,
    )


@pytest.fixture
def submitted(sensitive, alice, bob):  # type: ignore[no-untyped-def]
    """Submitted once the board exists, so its members are the approvers."""
    submit_use_case(use_case=sensitive, by=alice)
    return sensitive


@pytest.fixture
def events():  # type: ignore[no-untyped-def]
    """Events emitted (delivered on commit in tests with on-commit capture)."""
    seen = []

    def receive(sender, event, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(event)

    portal_event.connect(receive, dispatch_uid="tests.risk.events")
    yield seen
    portal_event.disconnect(dispatch_uid="tests.risk.events")
