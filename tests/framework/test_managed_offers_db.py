"""Managed offers stored in the catalogue reach the engine's comparisons."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from apps.catalogue.models import CatalogModel
from apps.catalogue.offers import ManagedOffer
from apps.framework.catalogue import current_catalogue
from apps.framework.engine import Inputs, evaluate
from apps.framework.services import current_engine_policy

INPUTS = {
    "data_classification": "restricted",
    "must_stay_in_infrastructure": True,
    "requests_per_day": 20_000,
    "avg_input_tokens": 1_500,
    "avg_output_tokens": 500,
    "workloads": [{"task_type": "summarisation", "share": 100}],
    "capability_need": "advanced",
    "mlops_readiness": "none",
    "horizon": "production",
}


def _foundry(model: CatalogModel, *, ours: bool) -> ManagedOffer:
    return ManagedOffer.objects.create(
        model=model,
        provider="Azure AI Foundry",
        input_usd_per_mtok=Decimal("0.60"),
        output_usd_per_mtok=Decimal("0.60"),
        regions=["australiaeast"],
        data_residency="Our subscription, Australia East.",
        inside_our_infrastructure=ours,
        price_source="example list price",
        price_date=date(2026, 11, 25),
    )


@pytest.mark.django_db
def test_a_second_host_joins_the_models_own_and_the_cache_sees_it(catalogue):
    llama = CatalogModel.objects.get(key="llama-3.1-70b")
    before = current_catalogue()
    assert before.model("llama-3.1-70b").managed_offers == ()

    _foundry(llama, ours=False)
    after = current_catalogue()

    assert after is not before  # the offer moved the catalogue version
    hosts = [o.provider for o in after.model("llama-3.1-70b").managed_offers]
    assert hosts == [llama.hosted_by, "Azure AI Foundry"]
    primary = after.model("llama-3.1-70b").managed_offers[0]
    assert primary.input_usd_per_mtok == float(llama.input_usd_per_mtok)


@pytest.mark.django_db
def test_must_stay_data_uses_only_an_offer_policy_marks_as_ours(catalogue):
    llama = CatalogModel.objects.get(key="llama-3.1-70b")
    offer = _foundry(llama, ours=False)
    inputs = Inputs.from_dict(INPUTS)

    outside = evaluate(inputs, current_engine_policy(), current_catalogue())
    assert outside.outcome == "open_source_self_hosted"

    offer.delete()
    _foundry(llama, ours=True)
    inside = evaluate(inputs, current_engine_policy(), current_catalogue())
    assert inside.outcome == "open_source_managed"
    assert inside.workloads[0].costs.managed.hosted_by == "Azure AI Foundry"
