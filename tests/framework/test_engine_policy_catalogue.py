"""Policy and catalogue: JSON round trips, validation and the seed's provenance."""

import json
from dataclasses import replace

import pytest

from apps.framework.engine import (
    DEFAULT_POLICY,
    SEED_CATALOGUE_PATH,
    Catalogue,
    InputError,
    Policy,
    load_catalogue,
    load_seed_catalogue,
)


def test_it_round_trips_the_policy_through_json() -> None:
    """Django stores the policy as JSON; from_dict(as_dict) gives it back."""
    changed = replace(DEFAULT_POLICY, version="2027-01-01.2", volume_high=60_000)
    stored = json.loads(json.dumps(changed.as_dict()))
    assert Policy.from_dict(stored) == changed
    assert Policy.from_dict(DEFAULT_POLICY.as_dict()) == DEFAULT_POLICY


def test_it_fills_missing_policy_settings_from_the_defaults() -> None:
    """An older stored policy without newer keys still loads."""
    policy = Policy.from_dict({"version": "v1", "min_replicas": 1})
    assert policy.min_replicas == 1
    assert policy.volume_low == 10_000


def test_it_lists_every_bad_policy_setting() -> None:
    """Unknown keys, bad numbers and unknown categories are field errors."""
    with pytest.raises(InputError) as caught:
        Policy.from_dict(
            {
                "colour": "blue",
                "target_utilisation": 0,
                "min_replicas": 0,
                "categories_that_may_not_leave": ["health", "tax"],
                "volume_low": 60_000,
            }
        )
    assert set(caught.value.errors) == {
        "colour",
        "target_utilisation",
        "min_replicas",
        "categories_that_may_not_leave",
    }


def test_it_rejects_a_low_threshold_above_the_high_one() -> None:
    """volume_low must not exceed volume_high."""
    with pytest.raises(InputError) as caught:
        Policy.from_dict({"volume_low": 60_000})
    assert caught.value.errors == {"volume_low": ["Must not exceed volume_high."]}


def test_it_defaults_to_the_seed_and_reference_assumptions() -> None:
    """Thresholds, categories and ops assumptions follow the seed and scenario A."""
    p = DEFAULT_POLICY
    assert (p.volume_low, p.volume_high) == (10_000, 50_000)
    assert set(p.categories_that_may_not_leave) == {
        "health",
        "government",
        "indigenous",
    }
    assert p.classifications_that_may_not_leave == ("restricted",)
    assert (p.ops_fte_share, p.loaded_fte_cost, p.gpu_overhead) == (0.25, 180_000, 0.1)
    assert (p.min_replicas, p.target_utilisation, p.peak_factor_default) == (2, 0.6, 3)
    assert (p.days_per_month, p.hours_per_month) == (30.42, 730)


def test_it_loads_the_seed_catalogue_with_a_dated_snapshot() -> None:
    """The seed file validates and names its price snapshot."""
    catalogue = load_seed_catalogue()
    assert catalogue.snapshot.date == "2026-11-25"
    assert catalogue.snapshot.id
    assert catalogue.gpu(catalogue.default_gpu_profile).usd_per_gpu_hour == 3.0
    assert {"gpt-4o", "llama-3.1-70b", "llama-3.1-8b"} <= {
        m.key for m in catalogue.models
    }


def test_every_seed_price_carries_its_source_and_date() -> None:
    """Token prices and GPU hourly prices each name a source and a date."""
    catalogue = load_seed_catalogue()
    for model in catalogue.models:
        if model.is_token_priced:
            assert model.price_source and model.price_date, model.key
    for gpu in catalogue.gpu_profiles:
        assert gpu.price_source and gpu.price_date, gpu.key
        assert all(size.source for size in gpu.sizes), gpu.key


def test_it_round_trips_the_catalogue_through_json() -> None:
    """as_dict gives back the seed file's content, which loads to an equal catalogue."""
    raw = json.loads(SEED_CATALOGUE_PATH.read_text(encoding="utf-8"))
    catalogue = load_catalogue(raw)
    assert catalogue.as_dict() == raw
    assert load_catalogue(json.loads(json.dumps(catalogue.as_dict()))) == catalogue


def test_it_rejects_catalogue_entries_with_missing_prices_or_bad_hosting() -> None:
    """Token-priced models need dated prices; api hosting is for proprietary ones."""
    raw = load_seed_catalogue().as_dict()
    model = raw["models"][0]
    model["price_date"] = None
    model["open_weights"] = True
    with pytest.raises(InputError) as caught:
        load_catalogue(raw)
    assert set(caught.value.errors) == {
        "models[0].hosting",
        "models[0].input_usd_per_mtok",
    }


def test_it_rejects_an_unknown_default_gpu_profile() -> None:
    """The default GPU profile must be one of the catalogue's profiles."""
    raw = load_seed_catalogue().as_dict()
    raw["default_gpu_profile"] = "tpu"
    with pytest.raises(InputError):
        load_catalogue(raw)


def test_it_leaves_out_models_past_their_listed_deprecation_date() -> None:
    """A model deprecated before the snapshot date is not current."""
    catalogue = load_seed_catalogue()
    gpt4o = catalogue.model("gpt-4o")
    assert catalogue.is_current(gpt4o)
    assert not catalogue.is_current(replace(gpt4o, deprecation_date="2026-10-23"))


def test_it_narrows_a_catalogue_to_named_models() -> None:
    """only() keeps the named models and the GPU profiles."""
    narrowed = load_seed_catalogue().only("gpt-4o", "llama-3.1-70b")
    assert isinstance(narrowed, Catalogue)
    assert [m.key for m in narrowed.models] == ["gpt-4o", "llama-3.1-70b"]
    with pytest.raises(KeyError):
        narrowed.only("gpt-5")
