"""Upgrade candidates: a model entering the catalogue proposes comparisons."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.catalogue.models import CatalogModel
from apps.catalogue.services import import_litellm_prices
from apps.core.events import EventKind
from apps.lifecycle import tasks
from apps.lifecycle.candidates import propose_upgrades
from apps.lifecycle.models import Comparison
from tests.factories import ServingEndpointFactory
from tests.reviews.conftest import submitted

from .conftest import approved

TODAY = dt.date(2026, 12, 1)
NEW = "gpt-4o-2026-11-20"
PRICE_FILE = {
    NEW: {
        "input_cost_per_token": 2e-06,
        "output_cost_per_token": 8e-06,
        "max_input_tokens": 256000,
        "mode": "chat",
    },
}


@pytest.fixture
def proposals_run_at_once(monkeypatch):  # type: ignore[no-untyped-def]
    """The task the import enqueues runs in this process (its logic is tested)."""
    monkeypatch.setattr(
        tasks.propose_model_upgrades,
        "delay",
        lambda model_ids: tasks.propose_model_upgrades(model_ids),
    )


@pytest.mark.django_db
def test_a_price_file_adding_a_successor_proposes_comparisons_for_exactly_the_matching_use_cases(
    alice,
    bob,
    catalogue,
    events,
    proposals_run_at_once,
    django_capture_on_commit_callbacks,
):
    CatalogModel.objects.filter(key="gpt-4o").update(family="gpt-4o")
    openai = ServingEndpointFactory(
        name="OpenAI",
        kind="openai",
        location="external",
        served_models=["gpt-4o", "gpt-5", NEW],
    )
    in_house = ServingEndpointFactory(
        name="Big box", served_models=["llama-3.1-405b", "llama-3.1-8b"]
    )
    matching = approved(alice, bob, [(openai, "gpt-4o", 1)], title="Matches")
    approved(
        alice, bob, [(openai, "gpt-4o", 1)], title="Too long", context_tokens=300_000
    )
    approved(alice, bob, [(openai, "gpt-5", 1)], title="Needs frontier")
    approved(alice, bob, [(in_house, "llama-3.1-8b", 1)], title="Cheaper already")
    approved(
        alice,
        bob,
        [(in_house, "llama-3.1-405b", 1)],
        title="Must stay",
        must_stay_in_infrastructure=True,
    )
    submitted(alice, title="Not decided")

    with django_capture_on_commit_callbacks(execute=True):
        report = import_litellm_prices(
            prices=PRICE_FILE, source="file", date=TODAY, add_family_members=True
        )
    assert report.added == [NEW]

    proposals = list(Comparison.objects.all())
    assert [(c.use_case.title, c.workload) for c in proposals] == [
        ("Matches", "classification")
    ]
    [proposal] = proposals
    assert proposal.use_case == matching
    assert proposal.candidate_model.key == NEW
    assert proposal.incumbent == {"endpoint": openai.pk, "model": "gpt-4o"}
    # An endpoint the data may go to already serves it: ready to compare.
    assert proposal.candidate == {"endpoint": openai.pk, "model": NEW}
    assert "cheaper" in proposal.reason
    assert proposal.status == "proposed"
    [event] = [e for e in events if e.kind == EventKind.UPGRADE_PROPOSED]
    assert event.use_case_id == matching.pk and "board" in event.roles


@pytest.mark.django_db
def test_a_candidate_is_proposed_once_per_use_case_and_workload(alice, bob, catalogue):
    openai = ServingEndpointFactory(
        name="OpenAI", kind="openai", location="external", served_models=["gpt-4o"]
    )
    approved(alice, bob, [(openai, "gpt-4o", 1)])
    cheaper = CatalogModel.objects.get(key="deepseek-v3.2")
    first = propose_upgrades(model_ids=[cheaper.pk], today=TODAY)
    assert len(first) == 1
    assert propose_upgrades(model_ids=[cheaper.pk], today=TODAY) == []
    # No endpoint serves it yet: the board chooses one when it starts the run.
    assert first[0].candidate is None
