"""The portfolio planner: pooled self-hosting across use-cases (pure Python).

``evaluate()`` answers one use-case at a time, so each self-hosts on replicas of
its own. Several use-cases that could run on the same open model can share one
deployment: the replica floor and the operations share are paid once, and two
use-cases that each sit below their own break-even can be well above it together
(reference/cost-model.md §2.5, "Portfolio view").

``plan_portfolio(use_cases, policy, catalogue)``:

1. evaluates every use-case on its own (its *stand-alone* answer and cost);
2. for each workload whose traffic an open model we host could carry (token
   profile known, a self-hostable model meets its tier and context, the task does
   not need proprietary capability, and the platform can run GPUs or the data may
   not leave anyway) lists the models it could share. Work where proprietary
   models have the edge is left alone unless its own answer is already open:
   pooling moves traffic on cost, never against a quality lean;
3. greedily opens the pool that saves the most: all unplaced eligible workloads
   that fit the model, sized replica by replica on their combined load (each
   workload's requests a day over what one replica carries for its own token
   profile and peak, so peaks are assumed to coincide), with one operations share
   per pool; the pool's cost is split by tokens, and any member whose share would
   cost more than its stand-alone answer leaves the pool (repeated until none
   does), so pooling never makes a use-case worse off;
4. keeps every other workload on its stand-alone answer.

Self-hosted pools run in-house, so data that may not leave our infrastructure may
join them; it never moves to a managed or external option here (it is only ever
planned on its stand-alone answer, which data governance already made in-house).
Use-cases the planner cannot cost (unknown token profile, nothing in the
catalogue fits) are listed in ``unplaced`` with the reason; every use-case is
either placed once or listed there once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .catalogue import Catalogue, GpuProfile, ManagedOffer, ModelSpec
from .costs import API, MANAGED, SELF_HOSTED, ReplicaPlan
from .evaluate import Assessment, evaluate, priced_for
from .policy import Policy
from .steps import fmt_count, fmt_money, join_words
from .types import MLOPS_READINESS, FieldReader, InputError, Inputs

POOLED = "pooled"
IN_HOUSE = "in-house"
# A pool must save at least this much a month to be worth running (float noise).
_MIN_SAVING = 0.01
_EPSILON = 1e-9
# Pool explanations name this many members; the lists carry them all.
_NAMED_MEMBERS = 6


@dataclass(frozen=True, slots=True)
class PortfolioUseCase:
    """One use-case as the planner sees it: who owns it and its engine inputs.

    ``inputs`` of None means they are incomplete or invalid (``problem`` says
    how); the plan lists such a use-case as one it cannot place.
    """

    id: str
    name: str
    team: str
    inputs: Inputs | None
    critical: bool = False
    status: str = ""
    problem: str = ""


@dataclass(frozen=True, slots=True)
class PoolMember:
    """One workload's traffic on a pool, and its share of the pool's cost."""

    use_case_id: str
    use_case_name: str
    team: str
    task_type: str
    requests_per_day: float
    tokens_per_day: float
    replica_load: float
    token_share: float
    monthly_cost: float
    standalone_monthly_cost: float
    standalone_outcome: str
    standalone_model_name: str | None
    data_must_stay: bool

    @property
    def saving(self) -> float:
        return self.standalone_monthly_cost - self.monthly_cost

    def as_dict(self) -> dict[str, Any]:
        return {
            "use_case": self.use_case_id,
            "use_case_name": self.use_case_name,
            "team": self.team,
            "task_type": self.task_type,
            "requests_per_day": round(self.requests_per_day, 1),
            "tokens_per_day": round(self.tokens_per_day),
            "replica_load": round(self.replica_load, 3),
            "token_share": round(self.token_share, 4),
            "monthly_cost": round(self.monthly_cost, 2),
            "standalone_monthly_cost": round(self.standalone_monthly_cost, 2),
            "standalone_outcome": self.standalone_outcome,
            "standalone_model_name": self.standalone_model_name,
            "saving": round(self.saving, 2),
            "data_must_stay": self.data_must_stay,
        }


@dataclass(frozen=True, slots=True)
class Pool:
    """One shared self-hosted deployment of an open model."""

    key: str
    model_key: str
    model_name: str
    gpu_profile: str
    gpu_name: str
    gpu_provider: str
    usd_per_gpu_hour: float
    gpus_per_replica: int
    replicas: int
    load: float
    gpu_monthly_cost: float
    ops_monthly_cost: float
    setup_monthly_cost: float
    members: tuple[PoolMember, ...]

    @property
    def monthly_cost(self) -> float:
        return self.gpu_monthly_cost + self.ops_monthly_cost + self.setup_monthly_cost

    @property
    def gpus(self) -> int:
        return self.replicas * self.gpus_per_replica

    @property
    def standalone_monthly_cost(self) -> float:
        return sum(m.standalone_monthly_cost for m in self.members)

    @property
    def saving(self) -> float:
        return self.standalone_monthly_cost - self.monthly_cost

    @property
    def use_case_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.use_case_id for m in self.members))

    @property
    def requests_per_day(self) -> float:
        return sum(m.requests_per_day for m in self.members)

    @property
    def explanation(self) -> str:
        """The pool in words, with the numbers it used."""
        shown = [
            f"{m.use_case_name} ({m.task_type}, {fmt_count(m.requests_per_day)} a day)"
            for m in self.members[:_NAMED_MEMBERS]
        ]
        if len(self.members) > _NAMED_MEMBERS:
            shown.append(f"{len(self.members) - _NAMED_MEMBERS} more workloads")
        names = join_words(shown)
        text = (
            f"{self.model_name} on {self.gpus_per_replica}x {self.gpu_name} per "
            f"replica at {fmt_money(self.usd_per_gpu_hour)} a GPU-hour serves "
            f"{names}: {fmt_count(self.requests_per_day)} requests a day together, "
            f"{self.load:.2f} replicas of load at peak, so {self.replicas} replicas "
            f"({self.gpus} GPUs). It costs {fmt_money(self.gpu_monthly_cost)} of "
            f"GPUs and {fmt_money(self.ops_monthly_cost)} of operations"
        )
        if self.setup_monthly_cost:
            text += f" and {fmt_money(self.setup_monthly_cost)} of set-up"
        text += (
            f", {fmt_money(self.monthly_cost)} a month, against "
            f"{fmt_money(self.standalone_monthly_cost)} for the same traffic on "
            f"each use-case's own answer: {fmt_money(self.saving)} a month less. "
            "Shares by tokens: "
            + "; ".join(
                f"{m.use_case_name} {m.token_share:.1%} = "
                f"{fmt_money(m.monthly_cost)} (on its own "
                f"{fmt_money(m.standalone_monthly_cost)})"
                for m in self.members[:_NAMED_MEMBERS]
            )
            + (
                "; and the rest in proportion"
                if len(self.members) > _NAMED_MEMBERS
                else ""
            )
            + "."
        )
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "model": self.model_key,
            "model_name": self.model_name,
            "gpu_profile": self.gpu_profile,
            "usd_per_gpu_hour": self.usd_per_gpu_hour,
            "gpus_per_replica": self.gpus_per_replica,
            "replicas": self.replicas,
            "gpus": self.gpus,
            "load": round(self.load, 3),
            "requests_per_day": round(self.requests_per_day, 1),
            "gpu_monthly_cost": round(self.gpu_monthly_cost, 2),
            "ops_monthly_cost": round(self.ops_monthly_cost, 2),
            "setup_monthly_cost": round(self.setup_monthly_cost, 2),
            "monthly_cost": round(self.monthly_cost, 2),
            "standalone_monthly_cost": round(self.standalone_monthly_cost, 2),
            "saving": round(self.saving, 2),
            "use_cases": list(self.use_case_ids),
            "members": [m.as_dict() for m in self.members],
            "explanation": self.explanation,
        }


@dataclass(frozen=True, slots=True)
class WorkloadPlacement:
    """Where one workload's traffic runs in the plan."""

    task_type: str
    share: float
    requests_per_day: float
    option: str
    model_key: str | None
    model_name: str | None
    hosted_by: str
    monthly_cost: float
    standalone_option: str
    standalone_model_name: str | None
    standalone_monthly_cost: float
    pool: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_type": self.task_type,
            "share": self.share,
            "requests_per_day": round(self.requests_per_day, 1),
            "option": self.option,
            "model": self.model_key,
            "model_name": self.model_name,
            "hosted_by": self.hosted_by,
            "monthly_cost": round(self.monthly_cost, 2),
            "standalone_option": self.standalone_option,
            "standalone_model_name": self.standalone_model_name,
            "standalone_monthly_cost": round(self.standalone_monthly_cost, 2),
            "pool": self.pool,
        }


@dataclass(frozen=True, slots=True)
class UseCasePlan:
    """One use-case's place in the plan against its stand-alone answer."""

    use_case: PortfolioUseCase
    standalone: Assessment
    workloads: tuple[WorkloadPlacement, ...]
    pool_partners: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.use_case.id

    @property
    def pooled(self) -> bool:
        return any(w.pool for w in self.workloads)

    @property
    def outcome(self) -> str:
        """The plan's outcome, named as evaluate() names outcomes."""
        shares: dict[str, float] = {}
        for w in self.workloads:
            kind = SELF_HOSTED if w.option == POOLED else w.option
            shares[kind] = shares.get(kind, 0.0) + w.share
        if len(shares) == 1:
            return next(iter(shares))
        if API in shares:
            return "hybrid"
        # All open, hosted differently: the hosting that carries most traffic.
        return max(shares, key=lambda kind: (shares[kind], kind == SELF_HOSTED))

    @property
    def monthly_cost(self) -> float:
        return sum(w.monthly_cost for w in self.workloads)

    @property
    def standalone_monthly_cost(self) -> float:
        return sum(w.standalone_monthly_cost for w in self.workloads)

    @property
    def saving(self) -> float:
        return self.standalone_monthly_cost - self.monthly_cost

    @property
    def explanation(self) -> str:
        """The use-case note: what pooling changes about its answer."""
        own = _OUTCOME_WORDS[self.standalone.outcome]
        if not self.pooled:
            return (
                f"{self.use_case.name}: {own}, as on its own "
                f"({fmt_money(self.monthly_cost)} a month); no pool lowers its cost."
            )
        pooled = [w for w in self.workloads if w.pool]
        models = join_words(sorted({w.model_name or "" for w in pooled}))
        others = len(self.pool_partners)
        partners = (
            f"pooled with {others} other use-case{'s' if others != 1 else ''}"
            if others
            else "pooled"
        )
        return (
            f"{self.use_case.name}: on its own, {own} "
            f"({fmt_money(self.standalone_monthly_cost)} a month); {partners} on "
            f"{models}: self-hosted, its share {fmt_money(self.monthly_cost)} a "
            f"month, {fmt_money(self.saving)} less."
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "use_case": self.use_case.id,
            "name": self.use_case.name,
            "team": self.use_case.team,
            "status": self.use_case.status,
            "critical": self.use_case.critical,
            "standalone_outcome": self.standalone.outcome,
            "outcome": self.outcome,
            "pooled": self.pooled,
            "monthly_cost": round(self.monthly_cost, 2),
            "standalone_monthly_cost": round(self.standalone_monthly_cost, 2),
            "saving": round(self.saving, 2),
            "pool_partners": list(self.pool_partners),
            "workloads": [w.as_dict() for w in self.workloads],
            "explanation": self.explanation,
        }


@dataclass(frozen=True, slots=True)
class Unplaced:
    """A use-case the plan cannot cost, and why."""

    use_case: PortfolioUseCase
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "use_case": self.use_case.id,
            "name": self.use_case.name,
            "team": self.use_case.team,
            "reason": self.reason,
        }


@dataclass(frozen=True, slots=True)
class VendorExposure:
    """What the plan buys from one vendor."""

    vendor: str
    monthly_cost: float
    requests_per_day: float
    use_cases: tuple[str, ...]
    critical_use_cases: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "vendor": self.vendor,
            "monthly_cost": round(self.monthly_cost, 2),
            "requests_per_day": round(self.requests_per_day, 1),
            "use_cases": len(self.use_cases),
            "critical_use_cases": list(self.critical_use_cases),
        }


@dataclass(frozen=True)
class Plan:
    """The recommended allocation of a portfolio, and what it saves."""

    pools: tuple[Pool, ...]
    use_cases: tuple[UseCasePlan, ...]
    unplaced: tuple[Unplaced, ...]
    mlops_readiness: str
    policy_version: str
    price_snapshot: str
    _by_id: dict[str, UseCasePlan] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {u.id: u for u in self.use_cases})

    def use_case(self, use_case_id: str) -> UseCasePlan:
        return self._by_id[use_case_id]

    @property
    def monthly_cost(self) -> float:
        return sum(u.monthly_cost for u in self.use_cases)

    @property
    def standalone_monthly_cost(self) -> float:
        return sum(u.standalone_monthly_cost for u in self.use_cases)

    @property
    def saving(self) -> float:
        return self.standalone_monthly_cost - self.monthly_cost

    @property
    def gpus(self) -> int:
        return sum(p.gpus for p in self.pools)

    @property
    def standalone_gpus(self) -> int:
        total = 0
        for u in self.use_cases:
            for wa in u.standalone.workloads:
                option = wa.costs.self_hosted
                if wa.outcome == SELF_HOSTED and option and option.self_hosted:
                    total += option.self_hosted.replicas * (
                        option.plan.gpus_per_replica if option.plan else 0
                    )
        return total

    def cost_by_option(self) -> dict[str, float]:
        """Monthly cost of pooled, self-hosted alone, managed and API traffic."""
        totals = {POOLED: 0.0, SELF_HOSTED: 0.0, MANAGED: 0.0, API: 0.0}
        for u in self.use_cases:
            for w in u.workloads:
                totals[w.option] = totals.get(w.option, 0.0) + w.monthly_cost
        return totals

    def exposure(self) -> tuple[VendorExposure, ...]:
        """Spend, requests and critical use-cases per vendor, largest spend first."""
        spend: dict[str, float] = {}
        requests: dict[str, float] = {}
        users: dict[str, dict[str, None]] = {}
        critical: dict[str, dict[str, None]] = {}
        for u in self.use_cases:
            for w in u.workloads:
                vendor = w.hosted_by
                spend[vendor] = spend.get(vendor, 0.0) + w.monthly_cost
                requests[vendor] = requests.get(vendor, 0.0) + w.requests_per_day
                users.setdefault(vendor, {})[u.use_case.name] = None
                if u.use_case.critical:
                    critical.setdefault(vendor, {})[u.use_case.name] = None
        return tuple(
            sorted(
                (
                    VendorExposure(
                        vendor=v,
                        monthly_cost=spend[v],
                        requests_per_day=requests[v],
                        use_cases=tuple(users[v]),
                        critical_use_cases=tuple(critical.get(v, {})),
                    )
                    for v in spend
                ),
                key=lambda e: (-e.monthly_cost, e.vendor),
            )
        )

    @property
    def summary(self) -> str:
        placed = len(self.use_cases)
        pooled = sum(1 for u in self.use_cases if u.pooled)
        if not placed:
            text = "No use-cases to plan."
        elif not self.pools:
            text = (
                f"{placed} use-case{'s' if placed != 1 else ''}: no pool saves money, "
                "so each keeps its own answer, "
                f"{fmt_money(self.monthly_cost)} a month in all."
            )
        else:
            text = (
                f"{placed} use-cases: {len(self.pools)} shared self-hosted "
                f"pool{'s' if len(self.pools) != 1 else ''} carry {pooled} of them on "
                f"{self.gpus} GPUs. The plan costs {fmt_money(self.monthly_cost)} a "
                f"month against {fmt_money(self.standalone_monthly_cost)} with each "
                f"use-case on its own answer: {fmt_money(self.saving)} a month less."
            )
        if self.unplaced:
            text += (
                f" {len(self.unplaced)} use-case"
                f"{'s' if len(self.unplaced) != 1 else ''} could not be costed "
                "(listed with the reason)."
            )
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "currency": "USD",
            "period": "month",
            "monthly_cost": round(self.monthly_cost, 2),
            "standalone_monthly_cost": round(self.standalone_monthly_cost, 2),
            "saving": round(self.saving, 2),
            "gpus": self.gpus,
            "standalone_gpus": self.standalone_gpus,
            "mlops_readiness": self.mlops_readiness,
            "cost_by_option": {
                k: round(v, 2) for k, v in self.cost_by_option().items()
            },
            "pools": [p.as_dict() for p in self.pools],
            "use_cases": [u.as_dict() for u in self.use_cases],
            "unplaced": [u.as_dict() for u in self.unplaced],
            "exposure": [e.as_dict() for e in self.exposure()],
            "policy_version": self.policy_version,
            "price_snapshot": self.price_snapshot,
        }


_OUTCOME_WORDS = {
    SELF_HOSTED: "open-source self-hosted",
    MANAGED: "managed open-source",
    API: "proprietary API",
    "hybrid": "hybrid",
}


@dataclass(slots=True)
class _Traffic:
    """A workload that could join a pool (working state of the planner)."""

    use_case: PortfolioUseCase
    index: int
    task_type: str
    requests_per_day: float
    tokens_per_day: float
    standalone_cost: float
    standalone_outcome: str
    standalone_model_name: str | None
    must_stay: bool
    horizon_months: int
    # model key -> (ModelSpec, ReplicaPlan) it could run on
    plans: dict[str, tuple[ModelSpec, ReplicaPlan]]


def plan_portfolio(
    use_cases: Sequence[PortfolioUseCase],
    policy: Policy,
    catalogue: Catalogue,
    *,
    mlops_readiness: str = "established",
) -> Plan:
    """The cheapest allocation the planner finds, never worse per use-case.

    ``mlops_readiness`` is the platform team's, which runs the pools: with
    ``none`` only data that may not leave (already self-hosted) is pooled.
    """
    if mlops_readiness not in MLOPS_READINESS:
        raise InputError({"mlops_readiness": [f"{mlops_readiness!r} is not known."]})
    seen: set[str] = set()
    placed: list[tuple[PortfolioUseCase, Assessment]] = []
    unplaced: list[Unplaced] = []
    traffic: list[_Traffic] = []
    for uc in use_cases:
        if uc.id in seen:
            raise InputError({"use_cases": [f"Use-case {uc.id!r} is listed twice."]})
        seen.add(uc.id)
        if uc.inputs is None:
            reason = (
                f"Inputs incomplete: {uc.problem or 'the engine cannot read them'}."
            )
            unplaced.append(Unplaced(use_case=uc, reason=reason))
            continue
        result = evaluate(uc.inputs, policy, catalogue)
        reason = _why_unplaceable(result)
        if reason:
            unplaced.append(Unplaced(use_case=uc, reason=reason))
            continue
        placed.append((uc, result))
        traffic.extend(_poolable(uc, result, policy, catalogue, mlops_readiness))
    ops_share = (
        policy.ops_fte_share_without_mlops
        if mlops_readiness == "none"
        else policy.ops_fte_share
    )
    ops_monthly = ops_share * policy.loaded_fte_cost / 12
    pools = _open_pools(traffic, catalogue, policy, ops_monthly)
    return _assemble(placed, unplaced, pools, mlops_readiness, policy, catalogue)


def _why_unplaceable(result: Assessment) -> str:
    if not result.inputs.token_profile_known:
        return (
            "Token profile unknown: without average input and output tokens the "
            "plan cannot cost it."
        )
    missing = [w.task_type for w in result.workloads if w.monthly_cost is None]
    if missing:
        return (
            f"No option in the catalogue fits {join_words(missing)} (capability "
            "and context): nothing to cost it on."
        )
    return ""


def _poolable(
    uc: PortfolioUseCase,
    result: Assessment,
    policy: Policy,
    catalogue: Catalogue,
    readiness: str,
) -> list[_Traffic]:
    inputs = result.inputs
    forced = result.steps[0].decided
    if readiness == "none" and not forced:
        return []  # nobody to run GPUs: only sovereign data is self-hosted anyway
    priced = priced_for(inputs, policy, catalogue)
    per_request = (inputs.avg_input_tokens or 0) + (inputs.avg_output_tokens or 0)
    context = inputs.context_needed
    found = []
    for index, wa in enumerate(result.workloads):
        # Pooling moves traffic on cost alone, so it never overrides a quality
        # lean: work where proprietary models have the edge stays where it is
        # unless it is already open (or data governance keeps it in-house).
        if not forced and wa.outcome == API and wa.steps[2].lean < 0:
            continue
        plans = priced.self_hosting_plans(
            capability_tier=wa.capability_tier, context_needed=context
        )
        if not plans and forced and wa.model_key is not None:
            # Short of the tier: anything at least as able as its own choice.
            own = catalogue.model(wa.model_key)
            plans = priced.self_hosting_plans(
                capability_tier=own.capability_tier, context_needed=own.context_window
            )
        if not plans or wa.monthly_cost is None or wa.requests_per_day <= 0:
            continue
        found.append(
            _Traffic(
                use_case=uc,
                index=index,
                task_type=wa.task_type,
                requests_per_day=wa.requests_per_day,
                tokens_per_day=wa.requests_per_day * per_request,
                standalone_cost=wa.monthly_cost,
                standalone_outcome=wa.outcome,
                standalone_model_name=wa.model_name,
                must_stay=forced,
                horizon_months=policy.horizon_months(inputs.horizon),
                plans={m.key: (m, plan) for m, plan in plans},
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class _Candidate:
    model: ModelSpec
    gpu: GpuProfile
    members: tuple[_Traffic, ...]
    replicas: int
    load: float
    gpu_cost: float
    fixed_cost: float
    setup_cost: float

    @property
    def cost(self) -> float:
        return self.gpu_cost + self.fixed_cost

    @property
    def saving(self) -> float:
        return sum(t.standalone_cost for t in self.members) - self.cost


def _size(
    model: ModelSpec,
    gpu: GpuProfile,
    members: Sequence[_Traffic],
    policy: Policy,
    ops_monthly: float,
) -> _Candidate:
    load = sum(
        t.requests_per_day / t.plans[model.key][1].capacity_per_day for t in members
    )
    replicas = max(policy.min_replicas, math.ceil(load - _EPSILON))
    replica_cost = members[0].plans[model.key][1].replica_monthly_cost
    months = max(t.horizon_months for t in members)
    setup = policy.setup_cost / months
    return _Candidate(
        model=model,
        gpu=gpu,
        members=tuple(members),
        replicas=replicas,
        load=load,
        gpu_cost=replicas * replica_cost,
        fixed_cost=ops_monthly + setup,
        setup_cost=setup,
    )


def _best_pool_on(
    model: ModelSpec,
    gpu: GpuProfile,
    members: list[_Traffic],
    policy: Policy,
    ops_monthly: float,
) -> _Candidate | None:
    """The pool on ``model`` once every member is no worse off than alone."""
    while members:
        pool = _size(model, gpu, members, policy, ops_monthly)
        tokens = sum(t.tokens_per_day for t in members)
        keep = [
            t
            for t in members
            if pool.cost * t.tokens_per_day / tokens
            <= t.standalone_cost * (1 + _EPSILON) + _EPSILON
        ]
        if len(keep) == len(members):
            return pool if pool.saving > _MIN_SAVING else None
        members = keep
    return None


def _open_pools(
    traffic: list[_Traffic], catalogue: Catalogue, policy: Policy, ops_monthly: float
) -> list[_Candidate]:
    """Greedy: open the pool that saves most, take its traffic out, repeat."""
    free = traffic
    opened: list[_Candidate] = []
    models = {key: plan_pair[0] for t in traffic for key, plan_pair in t.plans.items()}
    while free:
        best: _Candidate | None = None
        for key in sorted(models):
            members = [t for t in free if key in t.plans]
            if not members:
                continue
            model = models[key]
            pool = _best_pool_on(
                model, catalogue.gpu_for(model), members, policy, ops_monthly
            )
            if pool is not None and (best is None or pool.saving > best.saving):
                best = pool
        if best is None:
            break
        opened.append(best)
        taken = {id(t) for t in best.members}
        free = [t for t in free if id(t) not in taken]
    return opened


def _assemble(
    placed: list[tuple[PortfolioUseCase, Assessment]],
    unplaced: list[Unplaced],
    candidates: list[_Candidate],
    readiness: str,
    policy: Policy,
    catalogue: Catalogue,
) -> Plan:
    pools: list[Pool] = []
    pooled: dict[tuple[str, int], tuple[Pool, PoolMember]] = {}
    for n, c in enumerate(candidates, start=1):
        tokens = sum(t.tokens_per_day for t in c.members)
        members = tuple(
            PoolMember(
                use_case_id=t.use_case.id,
                use_case_name=t.use_case.name,
                team=t.use_case.team,
                task_type=t.task_type,
                requests_per_day=t.requests_per_day,
                tokens_per_day=t.tokens_per_day,
                replica_load=t.requests_per_day
                / t.plans[c.model.key][1].capacity_per_day,
                token_share=t.tokens_per_day / tokens,
                monthly_cost=c.cost * t.tokens_per_day / tokens,
                standalone_monthly_cost=t.standalone_cost,
                standalone_outcome=t.standalone_outcome,
                standalone_model_name=t.standalone_model_name,
                data_must_stay=t.must_stay,
            )
            for t in c.members
        )
        pool = Pool(
            key=f"pool-{n}-{c.model.key}",
            model_key=c.model.key,
            model_name=c.model.name,
            gpu_profile=c.gpu.key,
            gpu_name=c.gpu.gpu,
            gpu_provider=c.gpu.provider,
            usd_per_gpu_hour=c.gpu.usd_per_gpu_hour,
            gpus_per_replica=c.members[0].plans[c.model.key][1].gpus_per_replica,
            replicas=c.replicas,
            load=c.load,
            gpu_monthly_cost=c.gpu_cost,
            ops_monthly_cost=c.fixed_cost - c.setup_cost,
            setup_monthly_cost=c.setup_cost,
            members=members,
        )
        pools.append(pool)
        for t, m in zip(c.members, members, strict=True):
            pooled[(t.use_case.id, t.index)] = (pool, m)
    plans = []
    for uc, result in placed:
        placements = []
        partners: dict[str, None] = {}
        for index, wa in enumerate(result.workloads):
            chosen = wa.costs.option(wa.outcome)
            hosted_by = (
                IN_HOUSE
                if wa.outcome == SELF_HOSTED
                else (chosen.hosted_by if chosen else "")
            )
            standalone_cost = wa.monthly_cost or 0.0
            hit = pooled.get((uc.id, index))
            if hit is None:
                placements.append(
                    WorkloadPlacement(
                        task_type=wa.task_type,
                        share=wa.share,
                        requests_per_day=wa.requests_per_day,
                        option=wa.outcome,
                        model_key=wa.model_key,
                        model_name=wa.model_name,
                        hosted_by=hosted_by,
                        monthly_cost=standalone_cost,
                        standalone_option=wa.outcome,
                        standalone_model_name=wa.model_name,
                        standalone_monthly_cost=standalone_cost,
                    )
                )
                continue
            pool, member = hit
            for other in pool.use_case_ids:
                if other != uc.id:
                    partners[other] = None
            placements.append(
                WorkloadPlacement(
                    task_type=wa.task_type,
                    share=wa.share,
                    requests_per_day=wa.requests_per_day,
                    option=POOLED,
                    model_key=pool.model_key,
                    model_name=pool.model_name,
                    hosted_by=IN_HOUSE,
                    monthly_cost=member.monthly_cost,
                    standalone_option=wa.outcome,
                    standalone_model_name=wa.model_name,
                    standalone_monthly_cost=standalone_cost,
                    pool=pool.key,
                )
            )
        plans.append(
            UseCasePlan(
                use_case=uc,
                standalone=result,
                workloads=tuple(placements),
                pool_partners=tuple(partners),
            )
        )
    return Plan(
        pools=tuple(pools),
        use_cases=tuple(plans),
        unplaced=tuple(unplaced),
        mlops_readiness=readiness,
        policy_version=policy.version,
        price_snapshot=catalogue.snapshot.id,
    )


# --- Scenarios ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VolumeChange:
    factor: float
    team: str | None = None  # None: the whole portfolio

    def as_dict(self) -> dict[str, Any]:
        return {"team": self.team, "factor": self.factor}


@dataclass(frozen=True, slots=True)
class PriceChange:
    vendor: str
    percent: float

    def as_dict(self) -> dict[str, Any]:
        return {"vendor": self.vendor, "percent": self.percent}


MAX_VOLUME_FACTOR = 100.0
MAX_PRICE_PERCENT = 1_000.0


@dataclass(frozen=True, slots=True)
class Scenario:
    """ "What changes if": applied to the use-cases and the catalogue, then planned.

    ``gpu_usd_per_hour`` re-prices the default GPU profile (the one models without
    their own profile run on); ``mlops_readiness`` is the platform team's.
    """

    volume_changes: tuple[VolumeChange, ...] = ()
    price_changes: tuple[PriceChange, ...] = ()
    retired_models: tuple[str, ...] = ()
    gpu_usd_per_hour: float | None = None
    mlops_readiness: str = "established"

    @property
    def is_baseline(self) -> bool:
        return self == Scenario(mlops_readiness=self.mlops_readiness)

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        catalogue: Catalogue,
        teams: Iterable[str] = (),
    ) -> Scenario:
        """Validate a scenario against the catalogue's vendors and models and the
        portfolio's teams; raise InputError listing every bad field."""
        if not isinstance(data, Mapping):
            raise InputError({"non_field_errors": ["Expected an object."]})
        read = FieldReader(data)
        known = {
            "volume_changes",
            "price_changes",
            "retired_models",
            "gpu_usd_per_hour",
            "mlops_readiness",
        }
        for name in sorted(set(data) - known):
            read.add(name, "Unknown scenario field.")
        team_names = set(teams)
        vendor_names = set(vendors(catalogue))
        volume: list[VolumeChange] = []
        for i, item in enumerate(_list(read, "volume_changes")):
            name = f"volume_changes[{i}]"
            if not isinstance(item, Mapping):
                read.add(name, "Must be an object with team and factor.")
                continue
            sub = FieldReader(item, f"{name}.")
            factor = sub.number(
                "factor", minimum=0, maximum=MAX_VOLUME_FACTOR, exclusive_minimum=True
            )
            team = sub.text("team", None, nullable=True)
            if team and team not in team_names:
                sub.add("team", f"Unknown team {team!r}.")
            read.errors.update(sub.errors)
            if not sub.errors:
                volume.append(VolumeChange(factor=factor, team=team or None))
        prices: list[PriceChange] = []
        for i, item in enumerate(_list(read, "price_changes")):
            name = f"price_changes[{i}]"
            if not isinstance(item, Mapping):
                read.add(name, "Must be an object with vendor and percent.")
                continue
            sub = FieldReader(item, f"{name}.")
            vendor = sub.text("vendor")
            percent = sub.number("percent", minimum=-100, maximum=MAX_PRICE_PERCENT)
            if vendor and vendor not in vendor_names:
                sub.add("vendor", f"Unknown vendor {vendor!r}.")
            read.errors.update(sub.errors)
            if not sub.errors:
                prices.append(PriceChange(vendor=vendor, percent=percent))
        retired: list[str] = []
        for item in _list(read, "retired_models"):
            if not isinstance(item, str) or item not in catalogue_keys(catalogue):
                read.add("retired_models", f"Unknown model {item!r}.")
            elif item not in retired:
                retired.append(item)
        gpu = read.number(
            "gpu_usd_per_hour",
            None,
            nullable=True,
            maximum=1_000,
            exclusive_minimum=True,
        )
        readiness = read.choice("mlops_readiness", MLOPS_READINESS, "established")
        read.raise_if_errors()
        return cls(
            volume_changes=tuple(volume),
            price_changes=tuple(prices),
            retired_models=tuple(retired),
            gpu_usd_per_hour=gpu,
            mlops_readiness=readiness or "established",
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "volume_changes": [v.as_dict() for v in self.volume_changes],
            "price_changes": [p.as_dict() for p in self.price_changes],
            "retired_models": list(self.retired_models),
            "gpu_usd_per_hour": self.gpu_usd_per_hour,
            "mlops_readiness": self.mlops_readiness,
        }

    def describe(self) -> str:
        parts = []
        for v in self.volume_changes:
            parts.append(f"volume x {v.factor:g} for {v.team or 'the whole portfolio'}")
        for p in self.price_changes:
            parts.append(f"{p.vendor} prices {p.percent:+g} %")
        for key in self.retired_models:
            parts.append(f"{key} withdrawn")
        if self.gpu_usd_per_hour is not None:
            parts.append(f"GPUs at {fmt_money(self.gpu_usd_per_hour)} an hour")
        if self.mlops_readiness != "established":
            parts.append(f"platform ML-ops {self.mlops_readiness}")
        return "; ".join(parts) or "as things are"


def _list(read: FieldReader, name: str) -> list[Any]:
    value = read.raw(name, [])
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        read.add(name, "Must be a list.")
        return []
    return list(value)


def catalogue_keys(catalogue: Catalogue) -> set[str]:
    return {m.key for m in catalogue.models}


def vendor_of(model: ModelSpec) -> str:
    """Who is paid for a token-priced model: the host, else the provider."""
    return model.hosted_by or model.provider


def vendors(catalogue: Catalogue) -> tuple[str, ...]:
    """Vendors a price change can name: everyone selling tokens in the catalogue."""
    found = {vendor_of(m) for m in catalogue.models if m.is_token_priced}
    found |= {o.provider for m in catalogue.models for o in m.managed_offers}
    return tuple(sorted(found))


_PRICE_FIELDS = (
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "cached_input_usd_per_mtok",
    "batch_input_usd_per_mtok",
    "batch_output_usd_per_mtok",
    "long_context_input_usd_per_mtok",
)


def apply_to_catalogue(catalogue: Catalogue, scenario: Scenario) -> Catalogue:
    """The catalogue as the scenario has it: prices moved, models withdrawn."""
    if not (
        scenario.price_changes
        or scenario.retired_models
        or scenario.gpu_usd_per_hour is not None
    ):
        return catalogue
    factors: dict[str, float] = {}
    for change in scenario.price_changes:
        factors[change.vendor] = factors.get(change.vendor, 1.0) * (
            1 + change.percent / 100
        )
    models = []
    for model in catalogue.models:
        if model.key in scenario.retired_models:
            continue
        if model.managed_offers:
            model = replace(
                model,
                managed_offers=tuple(
                    _scaled(o, factors[o.provider]) if o.provider in factors else o
                    for o in model.managed_offers
                ),
            )
        factor = factors.get(vendor_of(model)) if model.is_token_priced else None
        if factor is not None:
            model = replace(
                model,
                **{
                    name: getattr(model, name) * factor
                    for name in _PRICE_FIELDS
                    if getattr(model, name) is not None
                },
            )
        models.append(model)
    gpus = catalogue.gpu_profiles
    if scenario.gpu_usd_per_hour is not None:
        gpus = tuple(
            replace(g, usd_per_gpu_hour=scenario.gpu_usd_per_hour)
            if g.key == catalogue.default_gpu_profile
            else g
            for g in gpus
        )
    return Catalogue(
        snapshot=catalogue.snapshot,
        models=tuple(models),
        gpu_profiles=gpus,
        default_gpu_profile=catalogue.default_gpu_profile,
        sources=catalogue.sources,
    )


def _scaled(offer: ManagedOffer, factor: float) -> ManagedOffer:
    return replace(
        offer,
        **{
            name: getattr(offer, name) * factor
            for name in _PRICE_FIELDS
            if getattr(offer, name, None) is not None
        },
    )


def apply_to_use_cases(
    use_cases: Sequence[PortfolioUseCase], scenario: Scenario
) -> list[PortfolioUseCase]:
    """The use-cases with volumes scaled for their team (or everyone)."""
    if not scenario.volume_changes:
        return list(use_cases)
    changed = []
    for uc in use_cases:
        if uc.inputs is None:
            changed.append(uc)
            continue
        factor = 1.0
        for change in scenario.volume_changes:
            if change.team is None or change.team == uc.team:
                factor *= change.factor
        if factor != 1.0:
            uc = replace(
                uc,
                inputs=replace(
                    uc.inputs, requests_per_day=uc.inputs.requests_per_day * factor
                ),
            )
        changed.append(uc)
    return changed


def plan_scenario(
    use_cases: Sequence[PortfolioUseCase],
    policy: Policy,
    catalogue: Catalogue,
    scenario: Scenario,
) -> Plan:
    """Plan the portfolio as the scenario would have it."""
    return plan_portfolio(
        apply_to_use_cases(use_cases, scenario),
        policy,
        apply_to_catalogue(catalogue, scenario),
        mlops_readiness=scenario.mlops_readiness,
    )


@dataclass(frozen=True, slots=True)
class Move:
    """A use-case whose planned answer changes under a scenario."""

    use_case_id: str
    name: str
    team: str
    critical: bool
    before: str
    after: str
    before_monthly_cost: float | None
    after_monthly_cost: float | None

    @property
    def cost_of_moving(self) -> float | None:
        """Extra monthly cost of the new answer over the old one."""
        if self.before_monthly_cost is None or self.after_monthly_cost is None:
            return None
        return self.after_monthly_cost - self.before_monthly_cost

    def as_dict(self) -> dict[str, Any]:
        cost = self.cost_of_moving
        return {
            "use_case": self.use_case_id,
            "name": self.name,
            "team": self.team,
            "critical": self.critical,
            "before": self.before,
            "after": self.after,
            "before_monthly_cost": _round(self.before_monthly_cost),
            "after_monthly_cost": _round(self.after_monthly_cost),
            "cost_of_moving": _round(cost),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _answer(u: UseCasePlan | None) -> str:
    if u is None:
        return "cannot be placed"
    rules = "; ".join(
        f"{w.task_type} → {w.model_name or 'none'}"
        + (" (pooled)" if w.pool else f" ({_OUTCOME_WORDS.get(w.option, w.option)})")
        for w in u.workloads
    )
    return rules


def changes_between(before: Plan, after: Plan) -> tuple[Move, ...]:
    """Use-cases whose planned models or hosting differ, with the monthly cost."""
    moves = []
    ids = [u.id for u in before.use_cases] + [u.use_case.id for u in before.unplaced]
    seen = set()
    for uc_id in ids:
        if uc_id in seen:
            continue
        seen.add(uc_id)
        old = before._by_id.get(uc_id)
        new = after._by_id.get(uc_id)
        old_text, new_text = _answer(old), _answer(new)
        if old_text == new_text:
            continue
        meta = (old or new).use_case if (old or new) else None
        if meta is None:
            continue
        moves.append(
            Move(
                use_case_id=uc_id,
                name=meta.name,
                team=meta.team,
                critical=meta.critical,
                before=old_text,
                after=new_text,
                before_monthly_cost=old.monthly_cost if old else None,
                after_monthly_cost=new.monthly_cost if new else None,
            )
        )
    return tuple(moves)


def cost_against_volume(
    use_cases: Sequence[PortfolioUseCase],
    policy: Policy,
    catalogue: Catalogue,
    scenario: Scenario,
    factors: Sequence[float] = (0.25, 0.5, 1, 2, 3, 5, 10),
) -> dict[str, list[float]]:
    """Planned and stand-alone monthly cost as the whole portfolio's volume scales
    (on top of the scenario), for a chart."""
    planned, alone, gpus = [], [], []
    for factor in factors:
        scaled = replace(
            scenario,
            volume_changes=(*scenario.volume_changes, VolumeChange(factor=factor)),
        )
        plan = plan_scenario(use_cases, policy, catalogue, scaled)
        planned.append(round(plan.monthly_cost, 2))
        alone.append(round(plan.standalone_monthly_cost, 2))
        gpus.append(plan.gpus)
    return {
        "volume_factor": list(factors),
        "planned_monthly_cost": planned,
        "standalone_monthly_cost": alone,
        "gpus": gpus,
    }
