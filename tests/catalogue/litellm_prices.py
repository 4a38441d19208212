"""A LiteLLM price file in the real format, and catalogue models that it prices.

`fixtures/litellm_model_prices.json` holds entries copied from BerriAI/litellm's
model_prices_and_context_window.json (commit 00035b69f416, read 2026); the
gemini-3-pro-preview entry is trimmed of its capability lists.
"""

from __future__ import annotations

from pathlib import Path

from apps.catalogue.models import CatalogModel

LITELLM_PRICES = (
    Path(__file__).resolve().parent / "fixtures" / "litellm_model_prices.json"
)


def add_models_priced_by_the_file() -> None:
    """Catalogue models for the file's entries, with no prices yet."""
    for key, name, provider in [
        ("claude-sonnet-4-5", "Claude Sonnet 4.5", "Anthropic"),
        ("gemini-2.5-pro", "Gemini 2.5 Pro", "Google"),
        ("gemini-3-pro-preview", "Gemini 3 Pro", "Google"),
        ("gpt-4o", "GPT-4o", "OpenAI"),
        ("gpt-5.4", "GPT-5.4", "OpenAI"),
    ]:
        CatalogModel.objects.create(
            key=key,
            name=name,
            provider=provider,
            capability_tier=CatalogModel.Tier.FRONTIER,
            context_window=128_000,
            hosting=["api"],
            litellm_key=key,
        )
