"""Monthly cost of each way of serving a use-case, and the break-even between them.

Follows reference/cost-model.md §2: a month is ``days_per_month`` days and
``hours_per_month`` hours; token-priced options cost requests times price, a self-hosted
model costs whole replicas that run all month plus an operations share.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .catalogue import Catalogue, GpuProfile, ModelSpec
from .policy import OpsAssumptions
from .types import TIER_RANK

SECONDS_PER_DAY = 86_400
# Tolerance for float noise when a volume sits exactly on a replica's capacity.
_EPSILON = 1e-9

API = "proprietary_api"
MANAGED = "open_source_managed"
SELF_HOSTED = "open_source_self_hosted"


@dataclass(frozen=True, slots=True)
class TokenProfile:
    """Average tokens per request and traffic shape of a use-case."""

    avg_input_tokens: float
    avg_output_tokens: float
    peak_factor: float
    cached_input_share: float = 0.0
    batch_share: float = 0.0

    @property
    def tokens_per_request(self) -> float:
        return self.avg_input_tokens + self.avg_output_tokens


def api_cost_per_request(model: ModelSpec, profile: TokenProfile) -> float:
    """USD per request at the model's per-token prices (§2.2).

    Cached input is priced at the cached rate where the model has one, and the
    batch share at the model's batch prices where it has them.
    """
    tokens_in, tokens_out = profile.avg_input_tokens, profile.avg_output_tokens
    price_in = model.input_usd_per_mtok or 0.0
    if (
        model.long_context_threshold_tokens is not None
        and model.long_context_input_usd_per_mtok is not None
        and tokens_in > model.long_context_threshold_tokens
    ):
        price_in = model.long_context_input_usd_per_mtok
    price_cached = model.cached_input_usd_per_mtok
    if price_cached is None:
        price_cached = price_in
    cached = profile.cached_input_share
    price_out = model.output_usd_per_mtok or 0.0
    online = (
        tokens_in * ((1 - cached) * price_in + cached * price_cached)
        + tokens_out * price_out
    ) / 1e6
    if (
        profile.batch_share <= 0
        or model.batch_input_usd_per_mtok is None
        or model.batch_output_usd_per_mtok is None
    ):
        return online
    batch = (
        tokens_in * model.batch_input_usd_per_mtok
        + tokens_out * model.batch_output_usd_per_mtok
    ) / 1e6
    return (1 - profile.batch_share) * online + profile.batch_share * batch


def api_monthly_cost(
    cost_per_request: float, requests_per_day: float, assumptions: OpsAssumptions
) -> float:
    return assumptions.days_per_month * requests_per_day * cost_per_request


def replica_requests_per_second(
    profile: TokenProfile,
    *,
    prefill_tokens_per_s: float,
    decode_tokens_per_s: float,
    slo_efficiency: float,
    kv_capacity_tokens: int | None,
    assumptions: OpsAssumptions,
) -> float:
    """Sustainable requests a second of one replica at the latency SLO (§2.3)."""
    busy = (
        profile.avg_input_tokens / prefill_tokens_per_s
        + profile.avg_output_tokens / decode_tokens_per_s
    )
    rate = slo_efficiency / busy
    if kv_capacity_tokens:
        # Little's law: requests in flight are bounded by KV-cache tokens.
        latency = (
            assumptions.slo_ttft_seconds
            + profile.avg_output_tokens * assumptions.slo_tpot_seconds
        )
        rate = min(rate, kv_capacity_tokens / (profile.tokens_per_request * latency))
    return rate


@dataclass(frozen=True, slots=True)
class SelfHostedCost:
    """One month of self-hosting at a given volume, itemised."""

    replicas: int
    gpu_monthly_cost: float
    ops_monthly_cost: float
    setup_monthly_cost: float

    @property
    def total(self) -> float:
        return self.gpu_monthly_cost + self.ops_monthly_cost + self.setup_monthly_cost


@dataclass(frozen=True, slots=True)
class ReplicaPlan:
    """Self-hosting one model on one GPU profile for one token profile."""

    model_key: str
    gpu_profile: str
    gpus_per_replica: int
    usd_per_gpu_hour: float
    requests_per_second: float
    capacity_per_day: float
    replica_monthly_cost: float
    ops_monthly_cost: float
    setup_monthly_cost: float
    min_replicas: int
    days_per_month: float

    @property
    def fixed_monthly_cost(self) -> float:
        return self.ops_monthly_cost + self.setup_monthly_cost

    @property
    def floor_monthly_cost(self) -> float:
        """What the minimum replicas cost whatever the traffic."""
        return self.min_replicas * self.replica_monthly_cost + self.fixed_monthly_cost

    @property
    def marginal_cost_per_request(self) -> float:
        """USD per request once traffic needs more than the minimum replicas."""
        return self.replica_monthly_cost / (self.days_per_month * self.capacity_per_day)

    def replicas(self, requests_per_day: float) -> int:
        needed = math.ceil(requests_per_day / self.capacity_per_day - _EPSILON)
        return max(self.min_replicas, needed)

    def cost(self, requests_per_day: float) -> SelfHostedCost:
        replicas = self.replicas(requests_per_day)
        return SelfHostedCost(
            replicas=replicas,
            gpu_monthly_cost=replicas * self.replica_monthly_cost,
            ops_monthly_cost=self.ops_monthly_cost,
            setup_monthly_cost=self.setup_monthly_cost,
        )

    def monthly_cost(self, requests_per_day: float, *, gpu_only: bool = False) -> float:
        gpu = self.replicas(requests_per_day) * self.replica_monthly_cost
        return gpu if gpu_only else gpu + self.fixed_monthly_cost


def plan_self_hosting(
    model: ModelSpec,
    gpu: GpuProfile,
    profile: TokenProfile,
    assumptions: OpsAssumptions,
) -> ReplicaPlan | None:
    """Replica sizing and cost, or None when the GPU profile cannot hold the model."""
    if model.params_b is None or profile.tokens_per_request <= 0:
        return None
    size = gpu.size_for(model.params_b)
    if size is None:
        return None
    rate = replica_requests_per_second(
        profile,
        prefill_tokens_per_s=size.prefill_tokens_per_s,
        decode_tokens_per_s=size.decode_tokens_per_s,
        slo_efficiency=size.slo_efficiency,
        kv_capacity_tokens=size.kv_capacity_tokens,
        assumptions=assumptions,
    )
    capacity = (
        rate * assumptions.target_utilisation * SECONDS_PER_DAY / profile.peak_factor
    )
    return ReplicaPlan(
        model_key=model.key,
        gpu_profile=gpu.key,
        gpus_per_replica=size.gpus_per_replica,
        usd_per_gpu_hour=gpu.usd_per_gpu_hour,
        requests_per_second=rate,
        capacity_per_day=capacity,
        replica_monthly_cost=(
            size.gpus_per_replica
            * gpu.usd_per_gpu_hour
            * assumptions.hours_per_month
            * (1 + assumptions.gpu_overhead)
        ),
        ops_monthly_cost=assumptions.ops_monthly_cost,
        setup_monthly_cost=assumptions.setup_monthly_cost,
        min_replicas=assumptions.min_replicas,
        days_per_month=assumptions.days_per_month,
    )


@dataclass(frozen=True, slots=True)
class BreakEven:
    """Requests a day above which self-hosting costs no more than the API.

    ``requests_per_day`` is None ("never") when a self-hosted request costs at least
    as much at the margin as an API request. ``at_step_edge`` marks a break-even on
    a replica boundary, where self-hosting jumps from dearer to cheaper.
    """

    requests_per_day: float | None
    replicas: int | None = None
    at_step_edge: bool = False

    @property
    def never(self) -> bool:
        return self.requests_per_day is None


def break_even(
    api_cost_per_request: float, plan: ReplicaPlan, *, gpu_only: bool = False
) -> BreakEven:
    """Where self-hosted cost meets the API, stepping replica by replica (§2.5)."""
    per_request_day = plan.days_per_month * api_cost_per_request
    step = plan.replica_monthly_cost
    cap = plan.capacity_per_day
    margin = per_request_day * cap - step
    if margin <= 0:
        return BreakEven(None)
    fixed = 0.0 if gpu_only else plan.fixed_monthly_cost

    def crossing(n: int) -> float:
        return (fixed + n * step) / per_request_day

    # The first replica count whose cost line meets the API inside its step.
    replicas = max(plan.min_replicas, math.ceil(fixed / margin - _EPSILON))
    while replicas > plan.min_replicas and crossing(replicas - 1) <= (
        replicas - 1
    ) * cap * (1 + _EPSILON):
        replicas -= 1
    while crossing(replicas) > replicas * cap * (1 + _EPSILON):
        replicas += 1
    low = (replicas - 1) * cap if replicas > plan.min_replicas else 0.0
    point = crossing(replicas)
    if point < low:
        return BreakEven(low, replicas, at_step_edge=True)
    return BreakEven(point, replicas)


@dataclass(frozen=True, slots=True)
class CostOption:
    """One way of serving the traffic and what it costs a month."""

    option: str
    model_key: str
    model_name: str
    hosted_by: str
    requests_per_day: float
    monthly_cost: float | None
    cost_per_request: float | None
    self_hosted: SelfHostedCost | None = None
    plan: ReplicaPlan | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "option": self.option,
            "model": self.model_key,
            "model_name": self.model_name,
            "hosted_by": self.hosted_by,
            "requests_per_day": _round(self.requests_per_day, 1),
            "monthly_cost": _round(self.monthly_cost, 2),
            "cost_per_request": _round(self.cost_per_request, 6),
        }
        if self.plan is not None and self.self_hosted is not None:
            data.update(
                replicas=self.self_hosted.replicas,
                gpus_per_replica=self.plan.gpus_per_replica,
                gpu_profile=self.plan.gpu_profile,
                usd_per_gpu_hour=self.plan.usd_per_gpu_hour,
                replica_requests_per_second=_round(self.plan.requests_per_second, 2),
                replica_capacity_per_day=_round(self.plan.capacity_per_day, 0),
                gpu_monthly_cost=_round(self.self_hosted.gpu_monthly_cost, 2),
                ops_monthly_cost=_round(self.self_hosted.ops_monthly_cost, 2),
                setup_monthly_cost=_round(self.self_hosted.setup_monthly_cost, 2),
            )
        return data


@dataclass(frozen=True, slots=True)
class BreakEvenComparison:
    """Self-hosted against the cheapest matched API: fully loaded and GPU-only."""

    api_model_key: str
    api_model_name: str
    self_hosted_model_key: str
    self_hosted_model_name: str
    api_cost_per_request: float
    self_hosted_marginal_cost_per_request: float
    fully_loaded: BreakEven
    gpu_only: BreakEven

    def as_dict(self) -> dict[str, Any]:
        return {
            "fully_loaded": _round(self.fully_loaded.requests_per_day, 0),
            "gpu_only": _round(self.gpu_only.requests_per_day, 0),
            "replicas_at_break_even": self.fully_loaded.replicas,
            "at_step_edge": self.fully_loaded.at_step_edge,
            "api_model": self.api_model_key,
            "self_hosted_model": self.self_hosted_model_key,
            "api_cost_per_request": _round(self.api_cost_per_request, 6),
            "self_hosted_marginal_cost_per_request": _round(
                self.self_hosted_marginal_cost_per_request, 6
            ),
        }


@dataclass(frozen=True, slots=True)
class CostComparison:
    """The capability-matched options for some traffic, and their break-even."""

    requests_per_day: float
    capability_tier: str
    api: CostOption | None
    managed: CostOption | None
    self_hosted: CostOption | None
    break_even: BreakEvenComparison | None
    note: str = ""
    # Set when data must stay and no open model reaches the tier or context.
    capability_shortfall: bool = False
    # Fully loaded self-hosting against the managed open option (None: no pair).
    self_hosted_vs_managed: BreakEven | None = None

    @property
    def options(self) -> tuple[CostOption, ...]:
        return tuple(o for o in (self.api, self.managed, self.self_hosted) if o)

    def option(self, kind: str) -> CostOption | None:
        return {API: self.api, MANAGED: self.managed, SELF_HOSTED: self.self_hosted}[
            kind
        ]

    def as_dict(self) -> dict[str, Any]:
        return {
            "currency": "USD",
            "period": "month",
            "requests_per_day": _round(self.requests_per_day, 1),
            "capability_tier": self.capability_tier,
            "options": [o.as_dict() for o in self.options],
            "break_even": self.break_even.as_dict() if self.break_even else None,
            "self_hosted_vs_managed_break_even": (
                None
                if self.self_hosted_vs_managed is None
                else _round(self.self_hosted_vs_managed.requests_per_day, 0)
            ),
            "note": self.note,
        }


class PricedCatalogue:
    """A catalogue priced once for one token profile and set of assumptions.

    Everything that does not depend on volume or tier is computed here, so the
    per-workload comparisons are cheap.
    """

    __slots__ = (
        "_api",
        "_assumptions",
        "_managed",
        "_profile_known",
        "_selected",
        "_self_hosted",
        "assumptions",
        "catalogue",
    )

    def __init__(
        self,
        catalogue: Catalogue,
        profile: TokenProfile | None,
        assumptions: OpsAssumptions,
    ) -> None:
        self.catalogue = catalogue
        self._assumptions = assumptions
        api: list[tuple[float, ModelSpec]] = []
        managed: list[tuple[float, ModelSpec]] = []
        hosted: list[tuple[tuple[float, ...], ModelSpec, ReplicaPlan | None]] = []
        for listed in catalogue.models:
            if not (listed.is_token_priced and catalogue.is_current(listed)):
                continue
            # One entry per way of buying tokens: the API, or each managed offer.
            if "api" in listed.hosting:
                api.append((self._price(listed, profile), listed))
            else:
                managed.extend(
                    (self._price(offer, profile), offer) for offer in listed.offers()
                )
        for model in catalogue.models:
            if "self_hosted" in model.hosting and model.params_b is not None:
                gpu = catalogue.gpu_for(model)
                if gpu.size_for(model.params_b) is None:
                    continue
                plan = (
                    plan_self_hosting(model, gpu, profile, assumptions)
                    if profile is not None
                    else None
                )
                rank = (
                    (plan.floor_monthly_cost, plan.marginal_cost_per_request)
                    if plan is not None
                    else (model.params_b,)
                )
                hosted.append((rank, model, plan))
        api.sort(key=lambda item: (item[0], item[1].key))
        managed.sort(key=lambda item: (item[0], item[1].key, item[1].hosted_by))
        hosted.sort(key=lambda item: (item[0], item[1].key))
        self._api = api
        self._managed = managed
        self._self_hosted = hosted
        self._profile_known = profile is not None
        self.assumptions = assumptions
        self._selected: dict[tuple[Any, ...], Any] = {}

    def compare(
        self,
        *,
        capability_tier: str,
        context_needed: int,
        requests_per_day: float,
        self_hosting_forced: bool = False,
    ) -> CostComparison:
        """Cheapest capable option of each kind, their costs and break-even."""
        key = (capability_tier, context_needed, self_hosting_forced)
        chosen = self._selected.get(key)
        if chosen is None:
            chosen = self._select(capability_tier, context_needed, self_hosting_forced)
            if len(self._selected) >= 64:
                self._selected.clear()
            self._selected[key] = chosen
        api, managed, hosted, shortfall, note, comparison, versus_managed = chosen
        known = self._profile_known
        api_option = self._token_option(API, api, requests_per_day, known)
        managed_option = self._token_option(MANAGED, managed, requests_per_day, known)
        hosted_option = None
        if hosted is not None:
            model, plan = hosted
            cost = plan.cost(requests_per_day) if plan is not None else None
            hosted_option = CostOption(
                option=SELF_HOSTED,
                model_key=model.key,
                model_name=model.name,
                hosted_by="in-house",
                requests_per_day=requests_per_day,
                monthly_cost=cost.total if cost else None,
                cost_per_request=plan.marginal_cost_per_request if plan else None,
                self_hosted=cost,
                plan=plan,
            )
        return CostComparison(
            requests_per_day=requests_per_day,
            capability_tier=capability_tier,
            self_hosted_vs_managed=versus_managed,
            api=api_option,
            managed=managed_option,
            self_hosted=hosted_option,
            break_even=comparison,
            note=note,
            capability_shortfall=shortfall,
        )

    @staticmethod
    def _price(model: ModelSpec, profile: TokenProfile | None) -> float:
        if profile is None:
            # Unknown profile: rank on the plain sum of prices only.
            return (model.input_usd_per_mtok or 0) + (model.output_usd_per_mtok or 0)
        return api_cost_per_request(model, profile)

    def self_hosting_plans(
        self, *, capability_tier: str, context_needed: int
    ) -> tuple[tuple[ModelSpec, ReplicaPlan], ...]:
        """Every self-hostable model that meets the tier and context, with its
        replica plan for this token profile, cheapest floor first (the planner
        pools traffic on any of them, not only on the cheapest)."""
        key = ("plans", capability_tier, context_needed)
        found = self._selected.get(key)
        if found is None:
            rank = TIER_RANK[capability_tier]
            found = tuple(
                (model, plan)
                for _, model, plan in self._self_hosted
                if plan is not None
                and model.tier_rank >= rank
                and model.context_window >= context_needed
            )
            self._selected[key] = found
        return found

    def _select(
        self, capability_tier: str, context_needed: int, self_hosting_forced: bool
    ) -> tuple[Any, ...]:
        """The candidates and break-evens for a tier and context, whatever the
        volume: computed once per priced catalogue, not once per evaluation."""
        rank = TIER_RANK[capability_tier]

        def fits(model: ModelSpec) -> bool:
            return model.tier_rank >= rank and model.context_window >= context_needed

        api = next(((p, m) for p, m in self._api if fits(m)), None)
        # Data that must stay may use only offers policy counts as in-house.
        managed = next(
            (
                (p, m)
                for p, m in self._managed
                if fits(m) and (m.inside_our_infrastructure or not self_hosting_forced)
            ),
            None,
        )
        hosted = next(((m, pl) for _, m, pl in self._self_hosted if fits(m)), None)
        shortfall = False
        if hosted is None and self_hosting_forced and self._self_hosted:
            shortfall = True
            hosted = _most_capable(self._self_hosted, context_needed)
        comparison = None
        note = ""
        if not self._profile_known:
            note = "Token profile unknown: costs and break-even need average tokens."
        elif api is None:
            note = (
                "No proprietary API in the catalogue meets the capability and context."
            )
        elif hosted is None:
            note = "No self-hostable open model meets the capability and context."
        elif hosted[1] is not None:
            price, api_model = api
            model, plan = hosted
            comparison = BreakEvenComparison(
                api_model_key=api_model.key,
                api_model_name=api_model.name,
                self_hosted_model_key=model.key,
                self_hosted_model_name=model.name,
                api_cost_per_request=price,
                self_hosted_marginal_cost_per_request=plan.marginal_cost_per_request,
                fully_loaded=break_even(price, plan),
                gpu_only=break_even(price, plan, gpu_only=True),
            )
        versus_managed = None
        if managed is not None and hosted is not None and hosted[1] is not None:
            versus_managed = break_even(managed[0], hosted[1])
        return (api, managed, hosted, shortfall, note, comparison, versus_managed)

    def _token_option(
        self,
        kind: str,
        choice: tuple[float, ModelSpec] | None,
        requests_per_day: float,
        known: bool,
    ) -> CostOption | None:
        if choice is None:
            return None
        price, model = choice
        return CostOption(
            option=kind,
            model_key=model.key,
            model_name=model.name,
            hosted_by=model.hosted_by or model.provider,
            requests_per_day=requests_per_day,
            monthly_cost=(
                api_monthly_cost(price, requests_per_day, self._assumptions)
                if known
                else None
            ),
            cost_per_request=price if known else None,
        )


_PRICED_CACHE_SIZE = 256


def priced_catalogue(
    catalogue: Catalogue, profile: TokenProfile | None, assumptions: OpsAssumptions
) -> PricedCatalogue:
    """A PricedCatalogue, reused while the catalogue, profile and assumptions hold."""
    key = ("priced", profile, assumptions)
    cache = catalogue.derived
    priced = cache.get(key)
    if priced is None:
        if len(cache) >= _PRICED_CACHE_SIZE:
            try:
                cache.pop(next(iter(cache)), None)
            except (RuntimeError, StopIteration):  # another thread changed it
                cache.clear()
        priced = cache[key] = PricedCatalogue(catalogue, profile, assumptions)
    return priced


def _most_capable(
    hosted: Sequence[tuple[Any, ModelSpec, ReplicaPlan | None]], context_needed: int
) -> tuple[ModelSpec, ReplicaPlan | None]:
    """The best open model available when data must stay, even if short of need."""
    best = max(
        hosted,
        key=lambda item: (
            item[1].context_window >= context_needed,
            item[1].tier_rank,
            # Cheaper first among equals: negate the rank tuple's first number.
            -item[0][0],
        ),
    )
    return best[1], best[2]


@dataclass(frozen=True, slots=True)
class CostCurve:
    """Monthly cost of one option over a range of requests a day, for a chart."""

    option: str
    label: str
    requests_per_day: tuple[float, ...]
    monthly_cost: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "option": self.option,
            "label": self.label,
            "requests_per_day": [round(v, 1) for v in self.requests_per_day],
            "monthly_cost": [round(v, 2) for v in self.monthly_cost],
        }


def volume_range(comparison: CostComparison, points: int = 41) -> tuple[float, ...]:
    """Evenly spaced volumes from 0 to twice the larger of volume and break-even."""
    top = comparison.requests_per_day
    if comparison.break_even and comparison.break_even.fully_loaded.requests_per_day:
        top = max(top, comparison.break_even.fully_loaded.requests_per_day)
    top = max(top * 2, 1_000.0)
    return tuple(top * i / (points - 1) for i in range(points))


def cost_curves(
    comparison: CostComparison,
    volumes: Iterable[float] | None = None,
    *,
    assumptions: OpsAssumptions,
) -> tuple[CostCurve, ...]:
    """Monthly cost per option (and GPU-only self-hosting) over ``volumes``."""
    xs = tuple(volumes) if volumes is not None else volume_range(comparison)
    curves = []
    for option in (comparison.api, comparison.managed):
        if option is not None and option.cost_per_request is not None:
            price = option.cost_per_request
            curves.append(
                CostCurve(
                    option=option.option,
                    label=f"{option.model_name} ({option.hosted_by})",
                    requests_per_day=xs,
                    monthly_cost=tuple(
                        api_monthly_cost(price, x, assumptions) for x in xs
                    ),
                )
            )
    hosted = comparison.self_hosted
    if hosted is not None and hosted.plan is not None:
        plan = hosted.plan
        curves.append(
            CostCurve(
                option=SELF_HOSTED,
                label=f"{hosted.model_name} self-hosted, fully loaded",
                requests_per_day=xs,
                monthly_cost=tuple(plan.monthly_cost(x) for x in xs),
            )
        )
        curves.append(
            CostCurve(
                option=f"{SELF_HOSTED}_gpu_only",
                label=f"{hosted.model_name} self-hosted, GPU only",
                requests_per_day=xs,
                monthly_cost=tuple(plan.monthly_cost(x, gpu_only=True) for x in xs),
            )
        )
    return tuple(curves)


def _round(value: float | None, digits: int) -> float | int | None:
    if value is None:
        return None
    return round(value) if digits == 0 else round(value, digits)
