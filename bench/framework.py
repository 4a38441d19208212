"""Throughput of the pure decision engine on one core.

Run: .venv/bin/python bench/framework.py [--seconds N]

Prints evaluations a second for the same inputs again and again, for 1,000 varied
inputs drawn from a fixed seed (the catalogue priced per token profile is reused
across inputs that share one), for the same with that cache cleared before every
evaluation, and with as_dict() included. The API part is added separately.

With ``--baseline REV`` (for example ``--baseline main``) the engine as it was at
that git revision is loaded side by side and both are timed in alternating rounds
on the varied inputs: the ratio of the medians is the figure to quote, since it
cancels the load other processes put on the machine. Times are CPU time of this
process (``time.process_time``).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from apps.framework.engine import (
    CAPABILITY_TIERS,
    DATA_CLASSIFICATIONS,
    DEFAULT_POLICY,
    HORIZONS,
    MLOPS_READINESS,
    TASK_TYPES,
    Inputs,
    evaluate,
    load_seed_catalogue,
)

TARGET = 20_000  # evaluations a second with varied inputs (issue 14)
ROOT = Path(__file__).resolve().parents[1]


def varied_inputs(count: int, seed: int = 7) -> list[Inputs]:
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        tasks = rng.sample(TASK_TYPES, rng.choice([1, 1, 1, 2, 3]))
        shares = [100 // len(tasks)] * len(tasks)
        shares[0] += 100 - sum(shares)
        data: dict[str, Any] = {
            "data_classification": rng.choice(DATA_CLASSIFICATIONS),
            "must_stay_in_infrastructure": rng.random() < 0.15,
            "requests_per_day": rng.choice([800, 5_000, 20_000, 60_000, 400_000]),
            "avg_input_tokens": rng.choice([300, 1_500, 4_000, 8_000]),
            "avg_output_tokens": rng.choice([100, 500, 1_000]),
            "workloads": [
                {"task_type": t, "share": s} for t, s in zip(tasks, shares, strict=True)
            ],
            "capability_need": rng.choice(CAPABILITY_TIERS),
            "mlops_readiness": rng.choice(MLOPS_READINESS),
            "horizon": rng.choice(HORIZONS),
            "fine_tuning_data": rng.random() < 0.3,
        }
        cases.append(Inputs.from_dict(data))
    return cases


def measure(run: Callable[[int], None], seconds: float) -> float:
    """Evaluations a second, running batches until ``seconds`` of CPU have passed."""
    done, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds:
        run(done)
        done += 200
    return done / elapsed


def load_baseline(revision: str, into: Path) -> Any:
    """The engine package as of ``revision``, imported as ``baseline_engine``."""
    import importlib.util
    import subprocess
    import tarfile
    from io import BytesIO

    archive = subprocess.run(
        [
            "git",
            "archive",
            revision,
            "apps/framework/engine",
            "apps/catalogue/seed_catalogue.json",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    package = into / "apps" / "framework" / "engine"
    spec = importlib.util.spec_from_file_location(
        "baseline_engine",
        package / "__init__.py",
        submodule_search_locations=[str(package)],
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["baseline_engine"] = module
    spec.loader.exec_module(module)
    return module


def compare_with_baseline(
    revision: str, cases: list[Inputs], rounds: int, seconds: float
) -> None:
    """Interleaved A/B rounds of the varied inputs: baseline, current, baseline..."""
    import statistics
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        old = load_baseline(revision, Path(tmp))
        engines = {
            f"baseline {revision}": (
                old,
                [old.Inputs.from_dict(c.as_dict()) for c in cases],
            ),
            "current": (sys.modules["apps.framework.engine"], cases),
        }
        rates: dict[str, list[float]] = {name: [] for name in engines}
        for _ in range(rounds):
            for name, (engine, inputs) in engines.items():
                catalogue, policy = engine.load_seed_catalogue(), engine.DEFAULT_POLICY

                def vary(
                    offset: int,
                    engine: Any = engine,
                    inputs: Any = inputs,
                    policy: Any = policy,
                    catalogue: Any = catalogue,
                ) -> None:
                    for i in range(offset, offset + 200):
                        engine.evaluate(inputs[i % len(inputs)], policy, catalogue)

                vary(0)
                rates[name].append(measure(vary, seconds))
    medians = {}
    for name, values in rates.items():
        medians[name] = statistics.median(values)
        print(
            f"A/B {name:22} median {medians[name]:9,.0f}/s  "
            f"range {min(values):,.0f}-{max(values):,.0f} ({rounds} rounds)"
        )
    base, current = medians.values()
    print(f"A/B speed-up, varied inputs: {current / base:.2f}x")


def api_rate(cases: list[Inputs], seconds: float) -> float:
    """Evaluations a second through POST /api/v1/framework/evaluate/.

    The Django test client against a throw-away test database holding the seed
    catalogue: request parsing, auth, policy and catalogue look-ups (cached per
    catalogue version), the engine and JSON rendering; no network or server.
    """
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    # Measure the endpoint, not the per-token throttle (600 a minute by default).
    os.environ["API_THROTTLE_RATE"] = "1000000/s"
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    from apps.accounts.models import User
    from apps.catalogue.seed import load_seed_catalogue as load_into_db

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, keepdb=False)
    try:
        load_into_db()
        client = APIClient()
        client.force_authenticate(User.objects.create(username="bench"))
        payloads = [case.as_dict() for case in cases]

        def post(offset: int) -> None:
            for i in range(offset, offset + 200):
                response = client.post(
                    "/api/v1/framework/evaluate/",
                    payloads[i % len(payloads)],
                    format="json",
                )
                if response.status_code != 200:
                    raise SystemExit(f"API answered {response.status_code}")

        post(0)
        return measure(post, seconds)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--baseline", help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-api", action="store_true", help="engine only")
    args = parser.parse_args()
    catalogue = load_seed_catalogue()
    policy = DEFAULT_POLICY
    cases = varied_inputs(1_000)
    same = cases[0]

    def repeat(_: int) -> None:
        for _ in range(200):
            evaluate(same, policy, catalogue)

    def vary(offset: int) -> None:
        for i in range(offset, offset + 200):
            evaluate(cases[i % len(cases)], policy, catalogue)

    def uncached(offset: int) -> None:
        for i in range(offset, offset + 200):
            catalogue.derived.clear()  # price the catalogue afresh every time
            evaluate(cases[i % len(cases)], policy, catalogue)

    def serialise(offset: int) -> None:
        for i in range(offset, offset + 200):
            evaluate(cases[i % len(cases)], policy, catalogue).as_dict()

    repeat(0)  # warm up imports and caches
    results = {
        "same inputs": measure(repeat, args.seconds),
        "varied inputs": measure(vary, args.seconds),
        "varied inputs, no cache": measure(uncached, args.seconds),
        "varied inputs + as_dict()": measure(serialise, args.seconds),
    }
    for name, rate in results.items():
        print(f"engine, {name:27} {rate:10,.0f} evaluations/s (one core)")
    verdict = "OK" if results["varied inputs"] >= TARGET else "BELOW TARGET"
    print(f"target >= {TARGET:,}/s with varied inputs: {verdict}")
    if args.baseline:
        compare_with_baseline(args.baseline, cases, args.rounds, args.seconds / 2)
    if args.no_api:
        return
    rate = api_rate(cases, args.seconds)
    print(
        f"API, POST /api/v1/framework/evaluate/ {rate:10,.0f} evaluations/s (test client)"
    )


if __name__ == "__main__":
    main()
