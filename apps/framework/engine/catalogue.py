"""Model catalogue and GPU profiles as plain frozen dataclasses, loaded from JSON."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .types import CAPABILITY_TIERS, TIER_RANK, FieldReader, InputError

HOSTING_OPTIONS = ("api", "managed", "self_hosted")


def _date(read: FieldReader, name: str, *, nullable: bool = False) -> str | None:
    value = read.text(name, None if nullable else ..., nullable=nullable)
    if not value:
        return None
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        read.add(name, "Must be a date as YYYY-MM-DD.")
        return None
    return str(value)


@dataclass(frozen=True, slots=True)
class PriceSnapshot:
    """Where and when the catalogue's prices were taken."""

    id: str
    source: str
    date: str

    def as_dict(self) -> dict[str, str]:
        return {"id": self.id, "source": self.source, "date": self.date}


@dataclass(frozen=True, slots=True)
class ManagedOffer:
    """One cloud's serverless offer of an open model (AWS Bedrock, Azure AI
    Foundry, ...), at its own dated per-token prices (USD per million tokens).

    ``inside_our_infrastructure`` is policy's mark that the offer's region and
    tenancy count as ours (say, a deployment in our own cloud subscription and
    region): only such an offer may carry data that must stay in-house.
    """

    provider: str
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    cached_input_usd_per_mtok: float | None = None
    batch_input_usd_per_mtok: float | None = None
    batch_output_usd_per_mtok: float | None = None
    regions: tuple[str, ...] = ()
    data_residency: str = ""
    inside_our_infrastructure: bool = False
    price_source: str = ""
    price_date: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], prefix: str = "") -> ManagedOffer:
        read = FieldReader(data, prefix)
        price = {"minimum": 0, "nullable": True}
        regions = read.raw("regions", [])
        if not isinstance(regions, list | tuple) or not all(
            isinstance(r, str) for r in regions
        ):
            read.add("regions", "Must be a list of region names.")
            regions = ()
        values: dict[str, Any] = {
            "provider": read.text("provider"),
            "input_usd_per_mtok": read.number("input_usd_per_mtok", minimum=0),
            "output_usd_per_mtok": read.number("output_usd_per_mtok", minimum=0),
            "cached_input_usd_per_mtok": read.number(
                "cached_input_usd_per_mtok", None, **price
            ),
            "batch_input_usd_per_mtok": read.number(
                "batch_input_usd_per_mtok", None, **price
            ),
            "batch_output_usd_per_mtok": read.number(
                "batch_output_usd_per_mtok", None, **price
            ),
            "regions": tuple(regions),
            "data_residency": read.text("data_residency", ""),
            "inside_our_infrastructure": read.boolean(
                "inside_our_infrastructure", False
            ),
            "price_source": read.text("price_source"),
            "price_date": _date(read, "price_date"),
        }
        read.raise_if_errors()
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "input_usd_per_mtok": self.input_usd_per_mtok,
            "output_usd_per_mtok": self.output_usd_per_mtok,
            "cached_input_usd_per_mtok": self.cached_input_usd_per_mtok,
            "batch_input_usd_per_mtok": self.batch_input_usd_per_mtok,
            "batch_output_usd_per_mtok": self.batch_output_usd_per_mtok,
            "regions": list(self.regions),
            "data_residency": self.data_residency,
            "inside_our_infrastructure": self.inside_our_infrastructure,
            "price_source": self.price_source,
            "price_date": self.price_date,
        }


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """A model and how it can be bought or run.

    Per-token prices are USD per million tokens for the ``api`` (proprietary) or
    ``managed`` (open weights, serverless) hosting; ``params_b`` picks the GPU
    size band for ``self_hosted``.
    """

    key: str
    name: str
    provider: str
    open_weights: bool
    capability_tier: str
    context_window: int
    hosting: tuple[str, ...]
    input_usd_per_mtok: float | None = None
    output_usd_per_mtok: float | None = None
    cached_input_usd_per_mtok: float | None = None
    batch_input_usd_per_mtok: float | None = None
    batch_output_usd_per_mtok: float | None = None
    long_context_threshold_tokens: int | None = None
    long_context_input_usd_per_mtok: float | None = None
    hosted_by: str = ""
    price_source: str = ""
    price_date: str | None = None
    deprecation_date: str | None = None
    params_b: float | None = None
    precision: str = ""
    gpu_profile: str | None = None
    # More than one cloud may host an open model; without any, the model's own
    # prices and ``hosted_by`` are its one managed offer.
    managed_offers: tuple[ManagedOffer, ...] = ()

    @property
    def tier_rank(self) -> int:
        return TIER_RANK[self.capability_tier]

    @property
    def is_token_priced(self) -> bool:
        return "api" in self.hosting or "managed" in self.hosting

    def offers(self) -> tuple[ModelSpec, ...]:
        """Each managed offer as a token-priced model of its own (same key, the
        offer's prices and host), for pricing; empty unless hosting is managed."""
        if "managed" not in self.hosting:
            return ()
        if not self.managed_offers:
            return (self,)
        return tuple(
            replace(
                self,
                input_usd_per_mtok=o.input_usd_per_mtok,
                output_usd_per_mtok=o.output_usd_per_mtok,
                cached_input_usd_per_mtok=o.cached_input_usd_per_mtok,
                batch_input_usd_per_mtok=o.batch_input_usd_per_mtok,
                batch_output_usd_per_mtok=o.batch_output_usd_per_mtok,
                long_context_threshold_tokens=None,
                long_context_input_usd_per_mtok=None,
                hosted_by=o.provider,
                price_source=o.price_source,
                price_date=o.price_date,
                managed_offers=(o,),
            )
            for o in self.managed_offers
        )

    @property
    def inside_our_infrastructure(self) -> bool:
        """For one offer (see offers()): policy counts it as in-house."""
        return len(self.managed_offers) == 1 and (
            self.managed_offers[0].inside_our_infrastructure
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], prefix: str = "") -> ModelSpec:
        read = FieldReader(data, prefix)
        open_weights = read.boolean("open_weights")
        hosting = read.raw("hosting")
        if not isinstance(hosting, list | tuple) or not hosting:
            read.add("hosting", f"Must be a non-empty list from {HOSTING_OPTIONS}.")
            hosting = ()
        elif any(h not in HOSTING_OPTIONS for h in hosting):
            read.add("hosting", f"Each option must be one of {HOSTING_OPTIONS}.")
        price = {"minimum": 0, "nullable": True}
        values: dict[str, Any] = {
            "key": read.text("key"),
            "name": read.text("name"),
            "provider": read.text("provider"),
            "open_weights": open_weights,
            "capability_tier": read.choice("capability_tier", CAPABILITY_TIERS),
            "context_window": read.number("context_window", integer=True, minimum=1),
            "hosting": tuple(h for h in HOSTING_OPTIONS if h in hosting),
            "input_usd_per_mtok": read.number("input_usd_per_mtok", None, **price),
            "output_usd_per_mtok": read.number("output_usd_per_mtok", None, **price),
            "cached_input_usd_per_mtok": read.number(
                "cached_input_usd_per_mtok", None, **price
            ),
            "batch_input_usd_per_mtok": read.number(
                "batch_input_usd_per_mtok", None, **price
            ),
            "batch_output_usd_per_mtok": read.number(
                "batch_output_usd_per_mtok", None, **price
            ),
            "long_context_threshold_tokens": read.number(
                "long_context_threshold_tokens", None, integer=True, nullable=True
            ),
            "long_context_input_usd_per_mtok": read.number(
                "long_context_input_usd_per_mtok", None, **price
            ),
            "hosted_by": read.text("hosted_by", ""),
            "price_source": read.text("price_source", ""),
            "price_date": _date(read, "price_date", nullable=True),
            "deprecation_date": _date(read, "deprecation_date", nullable=True),
            "params_b": read.number(
                "params_b", None, nullable=True, exclusive_minimum=True
            ),
            "precision": read.text("precision", ""),
            "gpu_profile": read.text("gpu_profile", None, nullable=True),
            "managed_offers": _offers(read, data.get("managed_offers")),
        }
        if "api" in hosting and open_weights:
            read.add("hosting", "api hosting is for proprietary models; use managed.")
        if "managed" in hosting and not open_weights:
            read.add("hosting", "managed hosting is for open-weights models.")
        if "self_hosted" in hosting and (not open_weights or not values["params_b"]):
            read.add("params_b", "Self-hosting needs open weights and params_b.")
        priced_by_offers = (
            "managed" in hosting
            and "api" not in hosting
            and bool(values["managed_offers"])
        )
        if (
            ("api" in hosting or "managed" in hosting)
            and not priced_by_offers
            and (
                values["input_usd_per_mtok"] is None
                or values["output_usd_per_mtok"] is None
                or not values["price_source"]
                or not values["price_date"]
            )
        ):
            read.add(
                "input_usd_per_mtok",
                "Token-priced hosting needs input and output prices, "
                "price_source and price_date.",
            )
        read.raise_if_errors()
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "provider": self.provider,
            "open_weights": self.open_weights,
            "capability_tier": self.capability_tier,
            "context_window": self.context_window,
            "hosting": list(self.hosting),
            "input_usd_per_mtok": self.input_usd_per_mtok,
            "output_usd_per_mtok": self.output_usd_per_mtok,
            "cached_input_usd_per_mtok": self.cached_input_usd_per_mtok,
            "batch_input_usd_per_mtok": self.batch_input_usd_per_mtok,
            "batch_output_usd_per_mtok": self.batch_output_usd_per_mtok,
            "long_context_threshold_tokens": self.long_context_threshold_tokens,
            "long_context_input_usd_per_mtok": self.long_context_input_usd_per_mtok,
            "hosted_by": self.hosted_by,
            "price_source": self.price_source,
            "price_date": self.price_date,
            "deprecation_date": self.deprecation_date,
            "params_b": self.params_b,
            "precision": self.precision,
            "gpu_profile": self.gpu_profile,
        } | (
            {"managed_offers": [o.as_dict() for o in self.managed_offers]}
            if self.managed_offers
            else {}
        )


def _offers(read: FieldReader, raw: Any) -> tuple[ManagedOffer, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list | tuple):
        read.add("managed_offers", "Must be a list.")
        return ()
    offers = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            read.add(f"managed_offers[{i}]", "Must be an object.")
            continue
        try:
            offers.append(ManagedOffer.from_dict(item, f"managed_offers[{i}]."))
        except InputError as exc:
            for name, msgs in exc.errors.items():
                for msg in msgs:
                    read.add(name, msg)
    return tuple(offers)


@dataclass(frozen=True, slots=True)
class ServingSize:
    """How one replica serves models up to ``max_params_b`` on a GPU type.

    Throughput follows reference/cost-model.md §2.3: equivalent prefill and decode
    token rates at saturation, derated by ``slo_efficiency`` (η) to meet the
    latency SLO; ``kv_capacity_tokens`` (optional) caps concurrency.
    """

    max_params_b: float
    gpus_per_replica: int
    prefill_tokens_per_s: float
    decode_tokens_per_s: float
    slo_efficiency: float
    kv_capacity_tokens: int | None = None
    source: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], prefix: str = "") -> ServingSize:
        read = FieldReader(data, prefix)
        positive = {"exclusive_minimum": True}
        values = {
            "max_params_b": read.number("max_params_b", **positive),
            "gpus_per_replica": read.number(
                "gpus_per_replica", integer=True, minimum=1
            ),
            "prefill_tokens_per_s": read.number("prefill_tokens_per_s", **positive),
            "decode_tokens_per_s": read.number("decode_tokens_per_s", **positive),
            "slo_efficiency": read.number("slo_efficiency", maximum=1, **positive),
            "kv_capacity_tokens": read.number(
                "kv_capacity_tokens", None, integer=True, nullable=True, **positive
            ),
            "source": read.text("source", ""),
        }
        read.raise_if_errors()
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_params_b": self.max_params_b,
            "gpus_per_replica": self.gpus_per_replica,
            "prefill_tokens_per_s": self.prefill_tokens_per_s,
            "decode_tokens_per_s": self.decode_tokens_per_s,
            "slo_efficiency": self.slo_efficiency,
            "kv_capacity_tokens": self.kv_capacity_tokens,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class GpuProfile:
    """A rentable GPU at a dated hourly price, with serving sizes by model size."""

    key: str
    name: str
    gpu: str
    memory_gb: int
    usd_per_gpu_hour: float
    provider: str
    provisioning: str
    price_source: str
    price_date: str
    sizes: tuple[ServingSize, ...]

    def size_for(self, params_b: float) -> ServingSize | None:
        """The smallest serving size that holds a model of ``params_b``."""
        for size in self.sizes:
            if params_b <= size.max_params_b:
                return size
        return None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], prefix: str = "") -> GpuProfile:
        read = FieldReader(data, prefix)
        sizes_raw = read.raw("sizes")
        sizes: list[ServingSize] = []
        if not isinstance(sizes_raw, list | tuple) or not sizes_raw:
            read.add("sizes", "Must be a non-empty list.")
        else:
            for i, item in enumerate(sizes_raw):
                try:
                    sizes.append(ServingSize.from_dict(item, f"sizes[{i}]."))
                except InputError as exc:
                    for name, msgs in exc.errors.items():
                        for msg in msgs:
                            read.add(name, msg)
        values = {
            "key": read.text("key"),
            "name": read.text("name"),
            "gpu": read.text("gpu"),
            "memory_gb": read.number("memory_gb", integer=True, minimum=1),
            "usd_per_gpu_hour": read.number(
                "usd_per_gpu_hour", minimum=0, exclusive_minimum=True
            ),
            "provider": read.text("provider"),
            "provisioning": read.text("provisioning"),
            "price_source": read.text("price_source"),
            "price_date": _date(read, "price_date"),
            "sizes": tuple(sorted(sizes, key=lambda s: s.max_params_b)),
        }
        read.raise_if_errors()
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "gpu": self.gpu,
            "memory_gb": self.memory_gb,
            "usd_per_gpu_hour": self.usd_per_gpu_hour,
            "provider": self.provider,
            "provisioning": self.provisioning,
            "price_source": self.price_source,
            "price_date": self.price_date,
            "sizes": [s.as_dict() for s in self.sizes],
        }


@dataclass(frozen=True)
class Catalogue:
    """Models, GPU profiles and the price snapshot they come from."""

    snapshot: PriceSnapshot
    models: tuple[ModelSpec, ...]
    gpu_profiles: tuple[GpuProfile, ...]
    default_gpu_profile: str
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    _models_by_key: dict[str, ModelSpec] = field(init=False, repr=False, compare=False)
    _gpus_by_key: dict[str, GpuProfile] = field(init=False, repr=False, compare=False)
    # Derived values keyed by what they depend on; safe because the catalogue is
    # immutable (see costs.priced_catalogue).
    derived: dict[Any, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_models_by_key", {m.key: m for m in self.models})
        object.__setattr__(self, "_gpus_by_key", {g.key: g for g in self.gpu_profiles})
        object.__setattr__(self, "derived", {})
        if len(self._models_by_key) != len(self.models):
            raise InputError({"models": ["Model keys must be unique."]})
        if self.default_gpu_profile not in self._gpus_by_key:
            raise InputError(
                {"default_gpu_profile": ["Must name one of the gpu_profiles."]}
            )
        for model in self.models:
            if model.gpu_profile and model.gpu_profile not in self._gpus_by_key:
                raise InputError(
                    {f"models.{model.key}.gpu_profile": ["Unknown GPU profile."]}
                )

    def model(self, key: str) -> ModelSpec:
        return self._models_by_key[key]

    def gpu(self, key: str) -> GpuProfile:
        return self._gpus_by_key[key]

    def gpu_for(self, model: ModelSpec) -> GpuProfile:
        return self._gpus_by_key[model.gpu_profile or self.default_gpu_profile]

    def is_current(self, model: ModelSpec) -> bool:
        """False once a model's listed deprecation date has passed at the snapshot."""
        return model.deprecation_date is None or (
            model.deprecation_date > self.snapshot.date
        )

    def only(self, *keys: str) -> Catalogue:
        """A copy holding just the named models (for what-if comparisons)."""
        missing = [k for k in keys if k not in self._models_by_key]
        if missing:
            raise KeyError(", ".join(missing))
        return Catalogue(
            snapshot=self.snapshot,
            models=tuple(m for m in self.models if m.key in keys),
            gpu_profiles=self.gpu_profiles,
            default_gpu_profile=self.default_gpu_profile,
            sources=self.sources,
        )

    def with_default_gpu(self, key: str) -> Catalogue:
        return Catalogue(
            snapshot=self.snapshot,
            models=self.models,
            gpu_profiles=self.gpu_profiles,
            default_gpu_profile=key,
            sources=self.sources,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Catalogue:
        if not isinstance(data, Mapping):
            raise InputError({"non_field_errors": ["Expected an object."]})
        read = FieldReader(data)
        snap = read.raw("snapshot")
        snapshot = PriceSnapshot(id="", source="", date="")
        if isinstance(snap, Mapping):
            snap_read = FieldReader(snap, "snapshot.")
            snapshot = PriceSnapshot(
                id=snap_read.text("id"),
                source=snap_read.text("source"),
                date=_date(snap_read, "date") or "",
            )
            read.errors.update(snap_read.errors)
        else:
            read.add("snapshot", "Must be an object with id, source and date.")
        models = _items(read, "models", ModelSpec.from_dict)
        gpus = _items(read, "gpu_profiles", GpuProfile.from_dict)
        default_gpu = read.text("default_gpu_profile")
        sources = read.raw("sources", {})
        read.raise_if_errors()
        return cls(
            snapshot=snapshot,
            models=tuple(models),
            gpu_profiles=tuple(gpus),
            default_gpu_profile=default_gpu,
            sources=dict(sources or {}),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "snapshot": self.snapshot.as_dict(),
            "sources": dict(self.sources),
            "default_gpu_profile": self.default_gpu_profile,
            "gpu_profiles": [g.as_dict() for g in self.gpu_profiles],
            "models": [m.as_dict() for m in self.models],
        }


def _items(read: FieldReader, name: str, build: Any) -> list[Any]:
    raw = read.raw(name)
    if not isinstance(raw, list | tuple):
        read.add(name, "Must be a list.")
        return []
    items = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            read.add(f"{name}[{i}]", "Must be an object.")
            continue
        try:
            items.append(build(item, f"{name}[{i}]."))
        except InputError as exc:
            read.errors.update(exc.errors)
    return items


def load_catalogue(data: Mapping[str, Any]) -> Catalogue:
    """Validate a catalogue in the seed_catalogue.json shape."""
    return Catalogue.from_dict(data)
