"""Cost of usage from catalogue prices: cache reads and writes, long context, tiers.

Prices come from importing a LiteLLM price file in its real format
(tests/catalogue/fixtures/litellm_model_prices.json); every expected amount is
worked out by hand from that file's prices, in USD a million tokens.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command

from apps.endpoints.models import ServingEndpoint
from apps.endpoints.pricing import Price, PriceBook, catalogue_price
from tests.catalogue.litellm_prices import LITELLM_PRICES, add_models_priced_by_the_file


@pytest.fixture
def prices(db):  # type: ignore[no-untyped-def]
    add_models_priced_by_the_file()
    call_command("import_prices", str(LITELLM_PRICES), "--date", "2026-12-01")

    def price(model: str) -> Price:
        found = catalogue_price(model)
        assert found is not None
        return found

    return price


class TestCacheWrites:
    def test_a_claude_5_minute_cache_write_costs_1_25_times_input(self, prices):
        # 20,000 uncached x $3 + 80,000 written x $3.75 + 1,000 out x $15
        cost = prices("claude-sonnet-4-5").cost(
            input_tokens=100_000,
            output_tokens=1_000,
            cache_write_tokens=80_000,
            requests=1,
        )
        assert cost == Decimal("0.375")

    def test_a_claude_1_hour_cache_write_costs_2_times_input(self, prices):
        # 20,000 uncached x $3 + 80,000 written x $6 + 1,000 out x $15
        cost = prices("claude-sonnet-4-5").cost(
            input_tokens=100_000,
            output_tokens=1_000,
            cache_write_1h_tokens=80_000,
            requests=1,
        )
        assert cost == Decimal("0.555")

    def test_reads_and_both_writes_are_each_charged_their_own_price(self, prices):
        # 30,000 x $3 + 50,000 read x $0.30 + 10,000 x $3.75 + 10,000 x $6
        # + 2,000 out x $15 = 90,000 + 15,000 + 37,500 + 60,000 + 30,000
        cost = prices("claude-sonnet-4-5").cost(
            input_tokens=100_000,
            output_tokens=2_000,
            cached_input_tokens=50_000,
            cache_write_tokens=10_000,
            cache_write_1h_tokens=10_000,
            requests=4,
        )
        assert cost == Decimal("0.2325")

    def test_cache_writes_without_a_price_are_charged_as_input(self, prices):
        # gpt-4o lists no cache-write price: 100,000 x $2.50 + 1,000 x $10
        cost = prices("gpt-4o").cost(
            input_tokens=100_000,
            output_tokens=1_000,
            cache_write_tokens=60_000,
            cache_write_1h_tokens=20_000,
        )
        assert cost == Decimal("0.26")

    def test_a_long_claude_prompt_writes_the_cache_at_the_long_context_price(
        self, prices
    ):
        # 250,000-token prompt (> 200,000): 50,000 x $6 + 100,000 x $7.50
        # + 100,000 x $12 + 1,000 out x $22.50
        cost = prices("claude-sonnet-4-5").cost(
            input_tokens=250_000,
            output_tokens=1_000,
            cache_write_tokens=100_000,
            cache_write_1h_tokens=100_000,
            requests=1,
        )
        assert cost == Decimal("2.2725")


class TestLongContext:
    def test_a_gemini_call_with_a_300k_prompt_is_priced_above_200k(self, prices):
        # 300,000 x $2.50 + 10,000 out x $15
        cost = prices("gemini-2.5-pro").cost(
            input_tokens=300_000, output_tokens=10_000, requests=1
        )
        assert cost == Decimal("0.9")

    def test_a_prompt_of_exactly_the_threshold_is_standard(self, prices):
        # 200,000 x $1.25 + 10,000 x $10
        price = prices("gemini-2.5-pro")
        assert price.cost(
            input_tokens=200_000, output_tokens=10_000, requests=1
        ) == Decimal("0.35")
        # 200,001 x $2.50 + 10,000 x $15
        assert price.cost(
            input_tokens=200_001, output_tokens=10_000, requests=1
        ) == Decimal("0.6500025")

    def test_cached_reads_of_a_long_prompt_use_the_long_context_cache_price(
        self, prices
    ):
        # 200,000 x $2.50 + 100,000 read x $0.25 + 10,000 x $15
        cost = prices("gemini-2.5-pro").cost(
            input_tokens=300_000,
            output_tokens=10_000,
            cached_input_tokens=100_000,
            requests=1,
        )
        assert cost == Decimal("0.675")

    def test_aggregated_usage_is_judged_by_its_average_prompt(self, prices):
        price = prices("gemini-2.5-pro")
        # 3 requests averaging 300,000: 900,000 x $2.50 + 30,000 x $15
        assert price.cost(
            input_tokens=900_000, output_tokens=30_000, requests=3
        ) == Decimal("2.7")
        # 5 requests averaging 180,000: 900,000 x $1.25 + 30,000 x $10
        assert price.cost(
            input_tokens=900_000, output_tokens=30_000, requests=5
        ) == Decimal("1.425")

    def test_without_a_request_count_usage_is_priced_as_before(self, prices):
        # Today's call: 300,000 x $1.25 + 10,000 x $10, no tier chosen
        cost = prices("gemini-2.5-pro").cost(input_tokens=300_000, output_tokens=10_000)
        assert cost == Decimal("0.475")

    def test_a_272k_threshold_applies_to_gpt_5_4(self, prices):
        # 300,000 x $5 + 1,000 x $22.50
        cost = prices("gpt-5.4").cost(
            input_tokens=300_000, output_tokens=1_000, requests=1
        )
        assert cost == Decimal("1.5225")


class TestServiceTiers:
    def test_batch_usage_is_charged_at_batch_prices(self, prices):
        price = prices("gpt-4o")
        # 1,000,000 x $1.25 + 100,000 x $5
        assert price.cost(
            input_tokens=1_000_000, output_tokens=100_000, service_tier="batch"
        ) == Decimal("1.75")
        # Standard: 1,000,000 x $2.50 + 100,000 x $10
        assert price.cost(
            input_tokens=1_000_000, output_tokens=100_000, service_tier=""
        ) == Decimal("3.5")

    def test_batch_cached_reads_without_a_batch_price_are_standard_cached(self, prices):
        # 600,000 x $1.25 + 400,000 x $1.25 (standard cached) + 100,000 x $5
        cost = prices("gpt-4o").cost(
            input_tokens=1_000_000,
            output_tokens=100_000,
            cached_input_tokens=400_000,
            service_tier="batch",
        )
        assert cost == Decimal("1.75")

    def test_priority_usage_is_charged_at_priority_prices(self, prices):
        # 600,000 x $4.25 + 400,000 x $2.125 + 100,000 x $17
        cost = prices("gpt-4o").cost(
            input_tokens=1_000_000,
            output_tokens=100_000,
            cached_input_tokens=400_000,
            service_tier="priority",
        )
        assert cost == Decimal("5.1")

    def test_flex_usage_is_charged_at_flex_prices(self, prices):
        # 800,000 x $1.25 + 200,000 x $0.13 + 50,000 x $7.50
        cost = prices("gpt-5.4").cost(
            input_tokens=1_000_000,
            output_tokens=50_000,
            cached_input_tokens=200_000,
            service_tier="flex",
        )
        assert cost == Decimal("1.401")

    def test_a_tier_without_prices_falls_back_to_standard(self, prices):
        # claude-sonnet-4-5 lists no priority prices: 100,000 x $3 + 1,000 x $15
        cost = prices("claude-sonnet-4-5").cost(
            input_tokens=100_000, output_tokens=1_000, service_tier="priority"
        )
        assert cost == Decimal("0.315")

    def test_long_priority_prompts_match_the_files_own_long_priority_prices(
        self, prices
    ):
        # The file lists gemini-3-pro-preview's priority prices above 200k
        # (input $7.20, output $32.40, cached $0.72); the scaling rule must
        # give them: 200,000 x $7.20 + 100,000 x $0.72 + 1,000 x $32.40
        cost = prices("gemini-3-pro-preview").cost(
            input_tokens=300_000,
            output_tokens=1_000,
            cached_input_tokens=100_000,
            service_tier="priority",
            requests=1,
        )
        assert cost == Decimal("1.5444")

    def test_an_unknown_service_tier_is_refused(self, prices):
        with pytest.raises(ValueError, match="Unknown service tier 'scale'"):
            prices("gpt-4o").cost(input_tokens=1, output_tokens=1, service_tier="scale")


class TestBadUsage:
    def test_cached_and_written_tokens_beyond_the_input_are_refused(self, prices):
        with pytest.raises(ValueError, match="exceed the input tokens"):
            prices("claude-sonnet-4-5").cost(
                input_tokens=1_000,
                output_tokens=0,
                cached_input_tokens=600,
                cache_write_tokens=500,
            )

    def test_negative_token_counts_are_refused(self, prices):
        with pytest.raises(ValueError, match="cannot be negative: output_tokens"):
            prices("gpt-4o").cost(input_tokens=10, output_tokens=-1)


class TestEndpointFallback:
    def test_an_endpoints_own_price_charges_cache_reads_and_writes_as_input(self, db):
        endpoint = ServingEndpoint(
            input_usd_per_mtok=Decimal("0.20"), output_usd_per_mtok=Decimal("0.60")
        )
        price = PriceBook(endpoint).price("our-fine-tune")
        assert price is not None and price.source == "endpoint"
        # 1,000,000 x $0.20 (reads and writes too) + 100,000 x $0.60
        assert price.cost(
            input_tokens=1_000_000,
            output_tokens=100_000,
            cached_input_tokens=300_000,
            cache_write_tokens=100_000,
            service_tier="batch",
            requests=1,
        ) == Decimal("0.26")
