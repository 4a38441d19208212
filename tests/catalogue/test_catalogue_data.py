"""Loading the seed, importing LiteLLM prices and building the engine's catalogue."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command

from apps.catalogue.models import CatalogModel, PriceSnapshot
from apps.catalogue.seed import load_seed_catalogue
from apps.framework.catalogue import current_catalogue
from apps.framework.engine import load_seed_catalogue as engine_seed_catalogue


@pytest.mark.django_db
class TestSeed:
    def test_the_database_catalogue_matches_the_seed_file(self, catalogue):
        from_db = current_catalogue()
        seed = engine_seed_catalogue()
        assert from_db.snapshot == seed.snapshot
        assert {m.key: m for m in from_db.models} == {m.key: m for m in seed.models}
        assert from_db.default_gpu_profile == seed.default_gpu_profile
        assert {g.key: g for g in from_db.gpu_profiles} == {
            g.key: g for g in seed.gpu_profiles
        }

    def test_loading_twice_changes_nothing(self, catalogue):
        assert load_seed_catalogue() == catalogue
        assert PriceSnapshot.objects.count() == 1
        assert CatalogModel.objects.get(key="gpt-4o").history.count() == 1

    def test_the_built_catalogue_is_cached_until_it_changes(
        self, catalogue, django_assert_num_queries
    ):
        first = current_catalogue()
        with django_assert_num_queries(1):
            assert current_catalogue() is first
        CatalogModel.objects.filter(key="gpt-4o").update(name="GPT-4o renamed")
        model = CatalogModel.objects.get(key="gpt-4o")
        model.save()  # bumps updated_at, as any edit does
        assert current_catalogue().model("gpt-4o").name == "GPT-4o renamed"


def litellm_file(tmp_path, entries):  # type: ignore[no-untyped-def]
    path = tmp_path / "model_prices_and_context_window.json"
    path.write_text(
        json.dumps({"sample_spec": {"input_cost_per_token": 0.0}, **entries})
    )
    return path


@pytest.mark.django_db
class TestImportPrices:
    def test_it_updates_prices_keeps_history_and_records_a_snapshot(
        self, catalogue, tmp_path, capsys
    ):
        path = litellm_file(
            tmp_path,
            {
                "gpt-4o": {
                    "input_cost_per_token": 2e-06,
                    "output_cost_per_token": 8e-06,
                    "cache_read_input_token_cost": 1e-06,
                    "max_input_tokens": 128000,
                    "litellm_provider": "openai",
                    "mode": "chat",
                },
                "claude-haiku-4-5": {
                    "input_cost_per_token": 1e-06,
                    "output_cost_per_token": 5e-06,
                    "cache_read_input_token_cost": 1e-07,
                    "input_cost_per_token_batches": 5e-07,
                    "output_cost_per_token_batches": 2.5e-06,
                    "max_input_tokens": 200000,
                },
            },
        )
        call_command("import_prices", str(path), "--date", "2026-12-01")
        out = capsys.readouterr().out
        model = CatalogModel.objects.get(key="gpt-4o")
        assert model.input_usd_per_mtok == Decimal("2")
        assert model.output_usd_per_mtok == Decimal("8")
        assert model.cached_input_usd_per_mtok == Decimal("1")
        assert str(model.price_date) == "2026-12-01"
        assert model.history.count() == 2
        assert model.history.earliest().input_usd_per_mtok == Decimal("2.5")
        unchanged = CatalogModel.objects.get(key="claude-haiku-4-5")
        assert unchanged.history.count() == 1, "same prices: no new version"
        snapshot = PriceSnapshot.objects.current()
        assert snapshot != catalogue and str(snapshot.date) == "2026-12-01"
        assert "sha256" in snapshot.source
        assert "1 changed" in out and "gpt-4o: input_usd_per_mtok" in out
        assert current_catalogue().model("gpt-4o").output_usd_per_mtok == 8.0

    def test_models_are_matched_on_their_litellm_key(self, catalogue, tmp_path):
        model = CatalogModel.objects.get(key="llama-3.1-8b")
        assert model.litellm_key == "meta.llama3-1-8b-instruct-v1:0"
        path = litellm_file(
            tmp_path,
            {
                model.litellm_key: {
                    "input_cost_per_token": 3e-07,
                    "output_cost_per_token": 3e-07,
                }
            },
        )
        call_command("import_prices", str(path))
        model.refresh_from_db()
        assert model.input_usd_per_mtok == Decimal("0.3")

    def test_a_dry_run_changes_nothing(self, catalogue, tmp_path, capsys):
        path = litellm_file(
            tmp_path,
            {"gpt-4o": {"input_cost_per_token": 9e-06, "output_cost_per_token": 1e-05}},
        )
        call_command("import_prices", str(path), "--dry-run")
        assert "would change" in capsys.readouterr().out
        assert CatalogModel.objects.get(key="gpt-4o").input_usd_per_mtok == Decimal(
            "2.5"
        )
        assert PriceSnapshot.objects.count() == 1

    def test_a_file_that_is_not_json_is_refused(self, catalogue, tmp_path):
        path = tmp_path / "prices.json"
        path.write_text("not json")
        with pytest.raises(CommandError, match="not JSON"):
            call_command("import_prices", str(path))
        path.write_text("[1, 2]")
        with pytest.raises(CommandError, match="JSON object"):
            call_command("import_prices", str(path))
