"""`import_prices` takes cache-write, long-context and service-tier prices."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from apps.catalogue.models import CatalogModel, PriceSnapshot
from apps.catalogue.seed import SEED_CATALOGUE
from apps.catalogue.services import load_catalogue_data

from .litellm_prices import LITELLM_PRICES, add_models_priced_by_the_file


def prices_of(key: str) -> dict[str, Decimal | int | None]:
    model = CatalogModel.objects.get(key=key)
    return {
        name: getattr(model, name)
        for name in (
            "input_usd_per_mtok",
            "output_usd_per_mtok",
            "cached_input_usd_per_mtok",
            "cache_write_usd_per_mtok",
            "cache_write_1h_usd_per_mtok",
            "batch_input_usd_per_mtok",
            "batch_output_usd_per_mtok",
            "priority_input_usd_per_mtok",
            "priority_output_usd_per_mtok",
            "priority_cached_input_usd_per_mtok",
            "flex_input_usd_per_mtok",
            "flex_output_usd_per_mtok",
            "flex_cached_input_usd_per_mtok",
            "long_context_threshold_tokens",
            "long_context_input_usd_per_mtok",
            "long_context_output_usd_per_mtok",
            "long_context_cached_input_usd_per_mtok",
            "long_context_cache_write_usd_per_mtok",
            "long_context_cache_write_1h_usd_per_mtok",
        )
    }


def expected(**prices: str | int) -> dict[str, Decimal | int | None]:
    """Every price None but those given (USD a million tokens, by hand)."""
    names = [
        "input",
        "output",
        "cached_input",
        "cache_write",
        "cache_write_1h",
        "batch_input",
        "batch_output",
        "priority_input",
        "priority_output",
        "priority_cached_input",
        "flex_input",
        "flex_output",
        "flex_cached_input",
        "long_context_input",
        "long_context_output",
        "long_context_cached_input",
        "long_context_cache_write",
        "long_context_cache_write_1h",
    ]
    result: dict[str, Decimal | int | None] = {
        f"{name}_usd_per_mtok": None for name in names
    }
    result["long_context_threshold_tokens"] = None
    for name, value in prices.items():
        if name == "long_context_threshold_tokens":
            result[name] = int(value)
        else:
            result[f"{name}_usd_per_mtok"] = Decimal(str(value))
    return result


@pytest.fixture
def imported(db):  # type: ignore[no-untyped-def]
    add_models_priced_by_the_file()
    call_command(
        "import_prices", str(LITELLM_PRICES), "--date", "2026-12-01", "--source", "S9"
    )


class TestImportPriceTiers:
    def test_claude_cache_writes_and_long_context_prices_are_stored(self, imported):
        assert prices_of("claude-sonnet-4-5") == expected(
            input="3",
            output="15",
            cached_input="0.3",
            cache_write="3.75",
            cache_write_1h="6",
            long_context_threshold_tokens=200_000,
            long_context_input="6",
            long_context_output="22.5",
            long_context_cached_input="0.6",
            long_context_cache_write="7.5",
            long_context_cache_write_1h="12",
        )

    def test_gemini_long_context_prices_are_stored_with_their_threshold(self, imported):
        assert prices_of("gemini-2.5-pro") == expected(
            input="1.25",
            output="10",
            cached_input="0.125",
            long_context_threshold_tokens=200_000,
            long_context_input="2.5",
            long_context_output="15",
            long_context_cached_input="0.25",
            long_context_cache_write="0.25",
        )

    def test_batch_and_priority_prices_are_stored(self, imported):
        assert prices_of("gpt-4o") == expected(
            input="2.5",
            output="10",
            cached_input="1.25",
            batch_input="1.25",
            batch_output="5",
            priority_input="4.25",
            priority_output="17",
            priority_cached_input="2.125",
        )

    def test_a_272k_threshold_and_flex_prices_are_stored(self, imported):
        assert prices_of("gpt-5.4") == expected(
            input="2.5",
            output="15",
            cached_input="0.25",
            batch_input="1.25",
            batch_output="7.5",
            priority_input="5",
            priority_output="30",
            priority_cached_input="0.5",
            flex_input="1.25",
            flex_output="7.5",
            flex_cached_input="0.13",
            long_context_threshold_tokens=272_000,
            long_context_input="5",
            long_context_output="22.5",
            long_context_cached_input="0.5",
        )

    def test_each_price_keeps_its_source_date_and_previous_version(self, imported):
        model = CatalogModel.objects.get(key="claude-sonnet-4-5")
        assert model.price_source == "S9, key 'claude-sonnet-4-5'"
        assert str(model.price_date) == "2026-12-01"
        assert model.history.count() == 2
        assert model.history.earliest().cache_write_usd_per_mtok is None
        snapshot = PriceSnapshot.objects.current()
        assert snapshot is not None and str(snapshot.date) == "2026-12-01"
        assert snapshot.source == "S9: 5 model(s) changed"

    def test_importing_the_same_file_again_changes_nothing(self, imported, capsys):
        call_command("import_prices", str(LITELLM_PRICES), "--source", "S9")
        assert "5 model(s) matched, 0 changed" in capsys.readouterr().out
        assert CatalogModel.objects.get(key="gpt-5.4").history.count() == 2


def write_file(tmp_path, entries):  # type: ignore[no-untyped-def]
    path = tmp_path / "model_prices_and_context_window.json"
    path.write_text(json.dumps(entries))
    return path


class TestLongContextTierReplacement:
    def test_a_new_tier_replaces_the_old_one_whole(self, imported, tmp_path):
        path = write_file(
            tmp_path,
            {
                "gemini-2.5-pro": {
                    "input_cost_per_token": 1.25e-06,
                    "output_cost_per_token": 1e-05,
                    "input_cost_per_token_above_128k_tokens": 2.5e-06,
                }
            },
        )
        call_command("import_prices", str(path))
        prices = prices_of("gemini-2.5-pro")
        assert prices["long_context_threshold_tokens"] == 128_000
        assert prices["long_context_input_usd_per_mtok"] == Decimal("2.5")
        assert prices["long_context_output_usd_per_mtok"] is None
        assert prices["long_context_cached_input_usd_per_mtok"] is None

    def test_only_the_lowest_of_several_tiers_is_kept_and_the_rest_reported(
        self, imported, tmp_path, capsys
    ):
        path = write_file(
            tmp_path,
            {
                "gpt-5.4": {
                    "input_cost_per_token": 2.5e-06,
                    "input_cost_per_token_above_128k_tokens": 4e-06,
                    "input_cost_per_token_above_272k_tokens": 5e-06,
                }
            },
        )
        call_command("import_prices", str(path))
        prices = prices_of("gpt-5.4")
        assert prices["long_context_threshold_tokens"] == 128_000
        assert prices["long_context_input_usd_per_mtok"] == Decimal("4")
        assert "those above 272,000 are ignored" in capsys.readouterr().out

    def test_a_price_that_is_not_a_number_is_reported_and_nothing_is_lost(
        self, imported, tmp_path, capsys
    ):
        path = write_file(
            tmp_path,
            {
                "claude-sonnet-4-5": {
                    "input_cost_per_token": 3e-06,
                    "cache_creation_input_token_cost": "3.75e-06",
                    "cache_creation_input_token_cost_above_1hr": -6e-06,
                    "output_cost_per_token_batches": 7.5e-06,
                }
            },
        )
        call_command("import_prices", str(path))
        out = capsys.readouterr().out
        assert "cache_creation_input_token_cost is not a price ('3.75e-06')" in out
        assert "cache_creation_input_token_cost_above_1hr is not a price" in out
        prices = prices_of("claude-sonnet-4-5")
        assert prices["cache_write_usd_per_mtok"] == Decimal("3.75")
        assert prices["cache_write_1h_usd_per_mtok"] == Decimal("6")
        assert prices["batch_output_usd_per_mtok"] == Decimal("7.5")


class TestSeedPrices:
    def seed_with(self, **prices: object) -> dict:  # type: ignore[type-arg]
        data = json.loads(SEED_CATALOGUE.read_text(encoding="utf-8"))
        data["snapshot"]["id"] = "seed-with-cache-writes"
        claude = next(m for m in data["models"] if m["key"] == "claude-haiku-4-5")
        claude.update(prices)
        return data

    def test_a_seed_file_may_carry_the_prices_the_engine_does_not_model(self, db):
        load_catalogue_data(
            data=self.seed_with(
                cache_write_usd_per_mtok=1.25, cache_write_1h_usd_per_mtok=2
            )
        )
        prices = prices_of("claude-haiku-4-5")
        assert prices["cache_write_usd_per_mtok"] == Decimal("1.25")
        assert prices["cache_write_1h_usd_per_mtok"] == Decimal("2")
        assert prices_of("gpt-4o")["cache_write_usd_per_mtok"] is None

    def test_a_seed_price_that_is_not_a_number_loads_nothing(self, db):
        with pytest.raises(ValueError, match="cache_write_usd_per_mtok must be"):
            load_catalogue_data(data=self.seed_with(cache_write_usd_per_mtok="a"))
        assert not CatalogModel.objects.exists()
        assert not PriceSnapshot.objects.exists()
