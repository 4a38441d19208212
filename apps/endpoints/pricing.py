"""Per-token prices of a served model: the catalogue first, the endpoint's own second.

The rules that turn usage into money (cache reads and writes, long-context tiers,
batch / priority / flex service tiers, and their fallbacks) are documented in
docs/usage-collection.md, "Prices".
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Q

from apps.catalogue.models import TOKEN_PRICE_FIELDS, CatalogModel

if TYPE_CHECKING:
    from apps.endpoints.models import ServingEndpoint

MILLION = Decimal(1_000_000)
SERVICE_TIERS = ("", "standard", "default", "auto", "batch", "priority", "flex")


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens for each kind of token, as one request is charged."""

    input: Decimal
    output: Decimal
    cached_input: Decimal
    cache_write: Decimal
    cache_write_1h: Decimal


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens of one model, and where it came from.

    Only input and output are required; every other price is None when the
    provider lists none, and `rates` then falls back as documented.
    """

    input_usd_per_mtok: Decimal
    output_usd_per_mtok: Decimal
    source: str
    cached_input_usd_per_mtok: Decimal | None = None
    cache_write_usd_per_mtok: Decimal | None = None
    cache_write_1h_usd_per_mtok: Decimal | None = None
    batch_input_usd_per_mtok: Decimal | None = None
    batch_output_usd_per_mtok: Decimal | None = None
    priority_input_usd_per_mtok: Decimal | None = None
    priority_output_usd_per_mtok: Decimal | None = None
    priority_cached_input_usd_per_mtok: Decimal | None = None
    flex_input_usd_per_mtok: Decimal | None = None
    flex_output_usd_per_mtok: Decimal | None = None
    flex_cached_input_usd_per_mtok: Decimal | None = None
    long_context_threshold_tokens: int | None = None
    long_context_input_usd_per_mtok: Decimal | None = None
    long_context_output_usd_per_mtok: Decimal | None = None
    long_context_cached_input_usd_per_mtok: Decimal | None = None
    long_context_cache_write_usd_per_mtok: Decimal | None = None
    long_context_cache_write_1h_usd_per_mtok: Decimal | None = None

    def is_long_context(
        self, *, input_tokens: int | float, requests: int | None
    ) -> bool:
        """Whether the prompts are above the long-context threshold.

        Judged on the average prompt (input tokens, cached and cache writes
        included, per request): exact for one request, an approximation for
        aggregated usage. Unknown request counts are never long context.
        """
        threshold = self.long_context_threshold_tokens
        if threshold is None or not requests or requests <= 0:
            return False
        return Decimal(int(input_tokens)) / Decimal(requests) > threshold

    def rates(self, *, service_tier: str = "", long_context: bool = False) -> Rates:
        """The price of each kind of token for a service tier and context size."""
        if service_tier not in SERVICE_TIERS:
            raise ValueError(
                f"Unknown service tier {service_tier!r}: expected one of "
                + ", ".join(repr(t) for t in SERVICE_TIERS)
                + "."
            )
        standard = self._standard(long_context=long_context)
        if service_tier not in ("batch", "priority", "flex"):
            return standard
        short = self._standard(long_context=False)
        own = {
            "input": getattr(self, f"{service_tier}_input_usd_per_mtok"),
            "output": getattr(self, f"{service_tier}_output_usd_per_mtok"),
            # No batch price for cached reads is published: standard applies.
            "cached_input": getattr(
                self, f"{service_tier}_cached_input_usd_per_mtok", None
            ),
        }
        tiered: dict[str, Decimal] = {}
        for kind, price in own.items():
            long_price: Decimal = getattr(standard, kind)
            if price is None:
                tiered[kind] = long_price
                continue
            short_price: Decimal = getattr(short, kind)
            # A tier's long-context price scales as the standard one does
            # (Google's batch and priority long-context prices do exactly this).
            tiered[kind] = (
                price * long_price / short_price
                if long_context and short_price
                else price
            )
        return Rates(
            input=tiered["input"],
            output=tiered["output"],
            cached_input=tiered["cached_input"],
            cache_write=standard.cache_write,
            cache_write_1h=standard.cache_write_1h,
        )

    def _standard(self, *, long_context: bool) -> Rates:
        input_ = self.input_usd_per_mtok
        output = self.output_usd_per_mtok
        cached = self.cached_input_usd_per_mtok
        write = self.cache_write_usd_per_mtok
        write_1h = self.cache_write_1h_usd_per_mtok
        if long_context:
            # A price the long-context tier does not list keeps its usual value.
            input_ = _first(self.long_context_input_usd_per_mtok, input_)
            output = _first(self.long_context_output_usd_per_mtok, output)
            cached = _either(self.long_context_cached_input_usd_per_mtok, cached)
            write = _either(self.long_context_cache_write_usd_per_mtok, write)
            write_1h = _either(self.long_context_cache_write_1h_usd_per_mtok, write_1h)
        write = _first(write, input_)
        return Rates(
            input=input_,
            output=output,
            cached_input=_first(cached, input_),
            cache_write=write,
            cache_write_1h=_first(write_1h, write),
        )

    def cost(
        self,
        *,
        input_tokens: int | float,
        output_tokens: int | float,
        cached_input_tokens: int | float = 0,
        cache_write_tokens: int | float = 0,
        cache_write_1h_tokens: int | float = 0,
        service_tier: str = "",
        requests: int | None = None,
    ) -> Decimal:
        """USD for this usage, unrounded.

        ``input_tokens`` includes cached reads and both kinds of cache write;
        ``requests`` (how many requests the usage sums) picks the long-context
        tier, which is never applied when it is None.
        """
        tokens = {
            "input_tokens": int(input_tokens),
            "output_tokens": int(output_tokens),
            "cached_input_tokens": int(cached_input_tokens),
            "cache_write_tokens": int(cache_write_tokens),
            "cache_write_1h_tokens": int(cache_write_1h_tokens),
        }
        negative = [name for name, value in tokens.items() if value < 0]
        if negative:
            raise ValueError(f"Token counts cannot be negative: {', '.join(negative)}.")
        uncached = (
            tokens["input_tokens"]
            - tokens["cached_input_tokens"]
            - tokens["cache_write_tokens"]
            - tokens["cache_write_1h_tokens"]
        )
        if uncached < 0:
            raise ValueError(
                f"Cached ({tokens['cached_input_tokens']}) and cache-write "
                f"({tokens['cache_write_tokens']} + {tokens['cache_write_1h_tokens']})"
                f" tokens exceed the input tokens ({tokens['input_tokens']}), which "
                "include them."
            )
        rates = self.rates(
            service_tier=service_tier,
            long_context=self.is_long_context(
                input_tokens=tokens["input_tokens"], requests=requests
            ),
        )
        return (
            uncached * rates.input
            + tokens["cached_input_tokens"] * rates.cached_input
            + tokens["cache_write_tokens"] * rates.cache_write
            + tokens["cache_write_1h_tokens"] * rates.cache_write_1h
            + tokens["output_tokens"] * rates.output
        ) / MILLION


def _either(price: Decimal | None, fallback: Decimal | None) -> Decimal | None:
    return fallback if price is None else price


def _first(*prices: Decimal | None) -> Decimal:
    for price in prices:
        if price is not None:
            return price
    raise ValueError("No price to fall back to.")  # input is always set


def catalogue_price(model: str) -> Price | None:
    """The catalogue's price of ``model`` (matched on key or name, any case)."""
    if not model:
        return None
    return _lookup(model)


def _lookup(model: str) -> Price | None:
    # Served names often carry an organisation prefix ("meta-llama/...").
    names = {model, model.rsplit("/", 1)[-1]}
    rule = Q()
    for name in names:
        rule |= Q(key__iexact=name) | Q(name__iexact=name) | Q(litellm_key__iexact=name)
    row = (
        CatalogModel.objects.filter(rule)
        .values(*TOKEN_PRICE_FIELDS, "long_context_threshold_tokens")
        .first()
    )
    if row is None or row["input_usd_per_mtok"] is None:
        return None
    prices = {
        name: None if row[name] is None else Decimal(str(row[name]))
        for name in TOKEN_PRICE_FIELDS
    }
    prices["output_usd_per_mtok"] = prices["output_usd_per_mtok"] or Decimal(0)
    return Price(
        **prices,  # type: ignore[arg-type]  # input and output are set above
        source="catalogue",
        long_context_threshold_tokens=row["long_context_threshold_tokens"],
    )


class PriceBook:
    """Prices for one endpoint's models, each looked up once.

    ``shared`` lets the endpoints of one batch share their catalogue lookups.
    """

    def __init__(
        self, endpoint: ServingEndpoint, shared: dict[str, Price | None] | None = None
    ) -> None:
        self.endpoint = endpoint
        self._catalogue = shared if shared is not None else {}

    def price(self, model: str) -> Price | None:
        if model not in self._catalogue:
            self._catalogue[model] = catalogue_price(model)
        return self._catalogue[model] or self._fallback()

    def _fallback(self) -> Price | None:
        endpoint = self.endpoint
        if endpoint.input_usd_per_mtok is None:
            return None
        return Price(
            endpoint.input_usd_per_mtok,
            endpoint.output_usd_per_mtok or Decimal(0),
            "endpoint",
        )
