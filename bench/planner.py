"""How long the portfolio planner takes over 1,000 use-cases on one core.

Run: .venv/bin/python bench/planner.py [--use-cases N] [--rounds R]

Plans a generated portfolio (the same varied inputs as bench/framework.py, spread
over eight teams) and prints the CPU time of each plan, the number of pools and
the saving. The control, measured in the same rounds, is evaluating the same
use-cases one by one (what the planner must do anyway): the ratio shows what the
pooling itself adds. Target: a plan in at most 2 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from framework import varied_inputs  # bench/ is not a package

from apps.framework.engine import (
    DEFAULT_POLICY,
    PortfolioUseCase,
    evaluate,
    load_seed_catalogue,
    plan_portfolio,
)

TARGET_SECONDS = 2.0
TEAMS = ("Claims", "Risk", "Service", "Finance", "HR", "Legal", "IT", "Sales")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--use-cases", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    catalogue, policy = load_seed_catalogue(), DEFAULT_POLICY
    portfolio = [
        PortfolioUseCase(
            id=str(i), name=f"Use-case {i}", team=TEAMS[i % len(TEAMS)], inputs=inputs
        )
        for i, inputs in enumerate(varied_inputs(args.use_cases, seed=11))
    ]
    plan_times, control_times = [], []
    plan = None
    for _ in range(args.rounds):
        catalogue.derived.clear()  # each round starts cold, as a fresh process would
        start = time.process_time()
        for uc in portfolio:
            evaluate(uc.inputs, policy, catalogue)
        control_times.append(time.process_time() - start)
        catalogue.derived.clear()
        start = time.process_time()
        plan = plan_portfolio(portfolio, policy, catalogue)
        plan_times.append(time.process_time() - start)
    assert plan is not None
    median = statistics.median(plan_times)
    control = statistics.median(control_times)
    print(
        f"plan over {len(portfolio):,} use-cases: median {median:.3f} s "
        f"(range {min(plan_times):.3f}-{max(plan_times):.3f}, {args.rounds} rounds, "
        "CPU time)"
    )
    print(
        f"control, evaluate() each use-case alone: median {control:.3f} s; "
        f"plan / control = {median / control:.2f}x"
    )
    print(
        f"pools: {len(plan.pools)}, pooled use-cases: "
        f"{sum(1 for u in plan.use_cases if u.pooled):,}, GPUs: {plan.gpus}, "
        f"unplaced: {len(plan.unplaced)}, saving ${plan.saving:,.0f} a month "
        f"({plan.saving / plan.standalone_monthly_cost:.1%})"
    )
    verdict = "OK" if median <= TARGET_SECONDS else "ABOVE TARGET"
    print(f"target <= {TARGET_SECONDS:g} s: {verdict}")


if __name__ == "__main__":
    main()
