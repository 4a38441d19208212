"""The portfolio planner on the portal's data: use-cases in, plan and scenario out.

The engine (``apps.framework.engine.planner``) does the planning; this module
reads the use-cases the plan covers (submitted, in review, approved and live),
optionally replaces their declared volumes with the usage ledger's last 30 days,
validates a scenario, and saves plans the board keeps as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Sum

from apps.accounts.models import Team
from apps.accounts.roles import Role
from apps.endpoints.models import DailyUsage
from apps.framework.catalogue import current_catalogue
from apps.framework.engine import (
    Catalogue,
    InputError,
    Inputs,
    Plan,
    PortfolioUseCase,
    Scenario,
    changes_between,
    cost_against_volume,
    plan_portfolio,
    plan_scenario,
)
from apps.framework.engine.planner import vendors
from apps.framework.inputs import inputs_data_for_use_case
from apps.framework.services import current_engine_policy
from apps.usecases.models import UseCase

from .models import SavedPlan
from .queries import utc_today

if TYPE_CHECKING:
    from apps.accounts.models import User

#: Use-cases the plan allocates: everything past intake and not retired or refused.
PLANNED_STATUSES = (
    UseCase.Status.SUBMITTED,
    UseCase.Status.IN_REVIEW,
    UseCase.Status.APPROVED,
    UseCase.Status.LIVE,
)
#: Days of the usage ledger that stand in for declared volumes.
LIVE_USAGE_DAYS = 30


def can_plan(user: User) -> bool:
    """The plan covers every team's use-cases: those who read everything."""
    return bool(user.is_authenticated and user.is_active and user.reads_everything)


def can_save_plans(user: User) -> bool:
    """Saved plans are the board's evidence."""
    return bool(
        can_plan(user) and (user.is_superuser or user.has_role(str(Role.BOARD)))
    )


def portfolio_for_plan(
    *, live_usage: bool = False, today: date | None = None
) -> list[PortfolioUseCase]:
    """The planned use-cases as the engine sees them (three queries, or four)."""
    rows = list(
        UseCase.objects.filter(status__in=PLANNED_STATUSES)
        .select_related("team")
        .prefetch_related("workloads")
        .order_by("team__name", "title", "pk")
    )
    usage = _live_usage(rows, today=today or utc_today()) if live_usage else {}
    found = []
    for row in rows:
        data = inputs_data_for_use_case(row)
        seen = usage.get(row.pk)
        if seen:
            data.update(seen)
        try:
            inputs = Inputs.from_dict(data)
            problem = ""
        except InputError as exc:
            inputs, problem = None, _problem(exc)  # listed as not placeable
        found.append(
            PortfolioUseCase(
                id=str(row.pk),
                name=row.title,
                team=row.team.name if row.team_id else "No team",
                inputs=inputs,
                # A capability the organisation runs for years: losing its vendor hurts.
                critical=row.horizon == "core",
                status=row.status,
                problem=problem,
            )
        )
    return found


def _problem(exc: InputError) -> str:
    return "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in exc.errors.items())


def _live_usage(rows: list[UseCase], *, today: date) -> dict[int, dict[str, Any]]:
    """Average requests a day and tokens a request over the ledger's last 30 days,
    for use-cases that had traffic."""
    start = today - timedelta(days=LIVE_USAGE_DAYS - 1)
    sums = (
        DailyUsage.objects.filter(
            use_case__in=[r.pk for r in rows], date__gte=start, date__lte=today
        )
        .values("use_case_id")
        .annotate(
            requests=Sum("requests"),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
        )
        .order_by()
    )
    found: dict[int, dict[str, Any]] = {}
    for row in sums:
        requests = row["requests"] or 0
        if requests <= 0:
            continue
        found[row["use_case_id"]] = {
            "requests_per_day": requests / LIVE_USAGE_DAYS,
            "avg_input_tokens": (row["input_tokens"] or 0) / requests,
            "avg_output_tokens": (row["output_tokens"] or 0) / requests,
        }
    return found


@dataclass(frozen=True)
class PlanRun:
    """A scenario planned against the plan as things are."""

    scenario: Scenario
    live_usage: bool
    baseline: Plan
    plan: Plan
    chart: dict[str, list[float]]
    vendors: tuple[str, ...]
    teams: tuple[str, ...]
    models: tuple[tuple[str, str], ...]

    @property
    def changes(self) -> tuple[Any, ...]:
        return changes_between(self.baseline, self.plan)

    def as_dict(self) -> dict[str, Any]:
        baseline = self.baseline
        return {
            "scenario": self.scenario.as_dict(),
            "scenario_description": self.scenario.describe(),
            "live_usage": self.live_usage,
            "baseline": {
                "monthly_cost": round(baseline.monthly_cost, 2),
                "standalone_monthly_cost": round(baseline.standalone_monthly_cost, 2),
                "saving": round(baseline.saving, 2),
                "gpus": baseline.gpus,
                "pools": len(baseline.pools),
            },
            "plan": self.plan.as_dict(),
            "changes": [m.as_dict() for m in self.changes],
            "chart": self.chart,
        }


def scenario_choices() -> dict[str, Any]:
    """What a scenario may name: teams, vendors and models (for the page's form)."""
    catalogue = current_catalogue(fallback_to_seed=True)
    return {
        "teams": tuple(Team.objects.order_by("name").values_list("name", flat=True)),
        "vendors": vendors(catalogue),
        "models": tuple((m.key, m.name) for m in catalogue.models),
    }


SCENARIO_FIELDS = (
    "volume_changes",
    "price_changes",
    "retired_models",
    "gpu_usd_per_hour",
    "mlops_readiness",
)


def run_plan(
    *,
    scenario: dict[str, Any],
    live_usage: bool = False,
    with_chart: bool = True,
    catalogue: Catalogue | None = None,
) -> PlanRun:
    """Plan the portfolio as it is and under ``scenario``; save nothing.

    Raises InputError with field errors for an invalid scenario (unknown team,
    vendor or model, values out of range).
    """
    catalogue = catalogue or current_catalogue(fallback_to_seed=True)
    policy = current_engine_policy()
    teams = tuple(Team.objects.order_by("name").values_list("name", flat=True))
    parsed = Scenario.from_dict(scenario, catalogue=catalogue, teams=teams)
    use_cases = portfolio_for_plan(live_usage=live_usage)
    baseline = plan_portfolio(
        use_cases, policy, catalogue, mlops_readiness="established"
    )
    plan = (
        baseline
        if parsed == Scenario()
        else plan_scenario(use_cases, policy, catalogue, parsed)
    )
    chart = (
        cost_against_volume(use_cases, policy, catalogue, parsed)
        if with_chart and use_cases
        else {}
    )
    return PlanRun(
        scenario=parsed,
        live_usage=live_usage,
        baseline=baseline,
        plan=plan,
        chart=chart,
        vendors=vendors(catalogue),
        teams=teams,
        models=tuple((m.key, m.name) for m in catalogue.models),
    )


@transaction.atomic
def save_plan(*, run: PlanRun, name: str, note: str = "", by: User) -> SavedPlan:
    """Keep a planned scenario as board evidence."""
    plan = run.plan
    return SavedPlan.objects.create(
        name=name,
        note=note,
        scenario=run.scenario.as_dict(),
        live_usage=run.live_usage,
        result=run.as_dict(),
        monthly_cost=_money(plan.monthly_cost),
        standalone_monthly_cost=_money(plan.standalone_monthly_cost),
        saving=_money(plan.saving),
        gpus=plan.gpus,
        pools=len(plan.pools),
        use_cases=len(plan.use_cases),
        policy_version=plan.policy_version,
        price_snapshot=plan.price_snapshot,
        created_by=by,
    )


def _money(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


def use_case_pooling_note(use_case: UseCase) -> str:
    """The use-case page's note where a pool changes its answer, else ""."""
    if use_case.status not in PLANNED_STATUSES:
        return ""
    run_catalogue = current_catalogue(fallback_to_seed=True)
    plan = plan_portfolio(portfolio_for_plan(), current_engine_policy(), run_catalogue)
    try:
        placed = plan.use_case(str(use_case.pk))
    except KeyError:
        return ""
    return placed.explanation if placed.pooled else ""
