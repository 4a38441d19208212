"""The portfolio overview and the spend API: 30 against 365 days, 10 thousand against
10 million samples, interleaved A/B.

Builds 1,000 use-cases (20 teams, 20 endpoints, assessments and board decisions)
in a template PostgreSQL database, clones it (``CREATE DATABASE … TEMPLATE``) once
per side of each comparison, loads each side, then times the overview page (as the
board: every use-case; and as a requester) and the spend API in-process through
Django's test client, switching database between requests: A, B, A, B … so the
machine's noise falls on both sides alike.

- **Days**: daily rollups for every use-case on each of the last 30 days against
  the last 365 days (written in SQL, with their monthly rollups, as the rollup
  task keeps them). Reports read whole months from the monthly rollups, so a year
  must cost within 1.5x of a month.
- **Samples**: the same 10 days of usage written as 10 thousand or ``--large``
  raw samples (server-side multi-row INSERTs), rolled up in SQL. Pages read the
  rollups only, so the large side must stay within 1.5x too.

Prints, per page, each side's median and range (ms) and the ratio of the medians
with the range of the per-round ratios.

    .venv/bin/python bench/dashboard.py [--large 10000000] [--repeat 11] [--keep]
                                        [--only days|samples]

DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names the server;
the bench creates ``portal_bench*`` databases on it and drops them at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USE_CASES = 1_000
TEAMS = 20
ENDPOINTS = 20
DAYS = 10
SMALL = 10_000
MONTH_DAYS, YEAR_DAYS = 30, 365
BENCH_DB = "portal_bench"
LIMIT = 1.5
VENDORS = [("openai", "OpenAI"), ("anthropic", "Anthropic"), ("vllm", "Self-hosted")]


def log(message: str) -> None:
    print(message, flush=True)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


SIDES = ("a", "b")
CLONES = [f"{BENCH_DB}_{kind}_{side}" for kind in ("days", "samples") for side in SIDES]


def recreate_database(admin_url: str, name: str = BENCH_DB, template: str = "") -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(
            f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else "")
        )


def drop_database(admin_url: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in [*CLONES, BENCH_DB]:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def use_database(name: str) -> None:
    """Point Django's default connection at ``name`` (a clone: same ids, same rows)."""
    from django.db import connections

    connections.close_all()
    connections["default"].settings_dict["NAME"] = name


def build_portfolio() -> dict:
    """Teams, users, endpoints, 1,000 use-cases with assessments and decisions."""
    from django.contrib.auth.models import Group

    from apps.accounts.models import Team, User
    from apps.endpoints.models import ServingEndpoint
    from apps.framework.models import Assessment, Policy
    from apps.portfolio.models import Budget
    from apps.reviews.models import Decision
    from apps.usecases.models import UseCase

    teams = Team.objects.bulk_create(
        [Team(name=f"Team {i:02d}", slug=f"team-{i:02d}") for i in range(TEAMS)]
    )
    board = User.objects.create_user("bench-board", password="x")
    board.groups.add(Group.objects.get(name="board"))
    owners = User.objects.bulk_create(
        [
            User(username=f"bench-owner-{i:02d}", team=team)
            for i, team in enumerate(teams)
        ]
    )
    Group.objects.get(name="requester").user_set.add(*owners)
    endpoints = ServingEndpoint.objects.bulk_create(
        [
            ServingEndpoint(
                name=f"Bench endpoint {i:02d}",
                kind=VENDORS[i % 3][0],
                vendor=VENDORS[i % 3][1],
                base_url=f"http://10.0.0.{i}:8000",
                location="external" if i % 3 < 2 else "in_house",
                enabled=False,
            )
            for i in range(ENDPOINTS)
        ]
    )
    outcomes = [
        "open_source_self_hosted",
        "open_source_managed",
        "proprietary_api",
        "hybrid",
    ]
    use_cases = UseCase.objects.bulk_create(
        [
            UseCase(
                title=f"Bench use-case {i:04d}",
                description="Benchmark.",
                owner=owners[i % TEAMS],
                team=teams[i % TEAMS],
                status="live",
                data_classification="internal",
                requests_per_day=1_000 + i,
                avg_input_tokens=1_000,
                avg_output_tokens=200,
                mlops_readiness="established",
                horizon="production",
            )
            for i in range(USE_CASES)
        ],
        batch_size=500,
    )
    policy = Policy.objects.current()
    Assessment.objects.bulk_create(
        [
            Assessment(
                use_case=uc,
                trigger="submit",
                inputs={},
                policy_version=policy,
                price_snapshot="bench",
                outcome=outcomes[i % 4],
                result={},
                monthly_cost=100 + i % 400,
                fingerprint=str(i),
            )
            for i, uc in enumerate(use_cases)
        ],
        batch_size=500,
    )
    Decision.objects.bulk_create(
        [
            Decision(
                use_case=uc, outcome="approved", pattern="hybrid", decided_by=board
            )
            for uc in use_cases[::3]
        ],
        batch_size=500,
    )
    Budget.objects.bulk_create(
        [Budget(team=team, monthly_amount=5_000) for team in teams]
    )
    return {
        "board": board,
        "requester": owners[0],
        "first_use_case": use_cases[0].pk,
        "endpoints": endpoints,
    }


SAMPLE_COLUMNS = (
    "endpoint_id, series, bucket_start, bucket_end, measure, model, project_id, "
    "api_key_id, use_case_id, team_id, requests, input_tokens, output_tokens, "
    "cached_input_tokens, cache_write_tokens, cache_write_1h_tokens, service_tier, "
    "cost, cost_reported, updated_at"
)


def insert_samples(
    cursor,
    *,
    total: int,
    days: int,
    start: datetime,
    first_use_case: int,
    first_endpoint: int,
) -> None:
    """``total`` samples, the same count for every use-case, over ``days`` days.

    One server-side multi-row INSERT per batch of use-cases; each use-case's
    samples are evenly spaced over the period (every 86.4 s at 10 million: a few
    series at 5-minute buckets, in effect).
    """
    per_use_case = total // USE_CASES
    step_seconds = days * 86_400 / per_use_case
    batch = max(1, 1_000_000 // per_use_case)  # about a million rows a statement
    written = 0
    for offset in range(0, USE_CASES, batch):
        cursor.execute(
            f"""
            INSERT INTO endpoints_usagesample ({SAMPLE_COLUMNS})
            SELECT %(first_endpoint)s + (u %% {ENDPOINTS}),
                   'series-' || u,
                   %(start)s + make_interval(secs => n * %(step)s),
                   %(start)s + make_interval(secs => n * %(step)s + 300),
                   'usage', 'model-' || (u %% 5), '', '',
                   %(first_use_case)s + u,
                   uc.team_id,
                   10 + (n %% 7), 1000 + (n %% 100), 200 + (n %% 30), 0, 0, 0, '',
                   round((0.01 + (u %% 13) * 0.001 + (n %% 11) * 0.0005)::numeric, 6),
                   false, now()
            FROM generate_series(%(lo)s, %(hi)s) AS u
            JOIN usecases_usecase uc ON uc.id = %(first_use_case)s + u
            CROSS JOIN generate_series(0, %(last)s) AS n
            """,
            {
                "first_endpoint": first_endpoint,
                "start": start,
                "step": step_seconds,
                "first_use_case": first_use_case,
                "lo": offset,
                "hi": min(offset + batch, USE_CASES) - 1,
                "last": per_use_case - 1,
            },
        )
        written += cursor.rowcount
        if total > 100_000:
            log(f"  … {written:>12,} samples")


class BulkLoad:
    """Load without per-row index and foreign-key upkeep, then rebuild the indexes.

    The unique key and the other indexes of the samples table are dropped and
    re-created from their own definitions afterwards; foreign-key triggers are
    skipped for this session when the role may (the rows are consistent by
    construction: every id comes from a join on the tables they point to).
    """

    def __init__(self, cursor) -> None:  # type: ignore[no-untyped-def]
        self.cursor = cursor

    def __enter__(self) -> BulkLoad:
        cursor = self.cursor
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'endpoints_usagesample'::regclass AND contype = 'u'"
        )
        self.constraints = cursor.fetchall()
        for name, _ in self.constraints:
            cursor.execute(
                f'ALTER TABLE endpoints_usagesample DROP CONSTRAINT "{name}"'
            )
        cursor.execute(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i "
            "WHERE i.tablename = 'endpoints_usagesample' AND i.indexname NOT IN "
            "(SELECT conname FROM pg_constraint WHERE contype = 'p')"
        )
        self.indexes = cursor.fetchall()
        for name, _ in self.indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        self.superuser = bool(cursor.fetchone()[0])
        if self.superuser:
            cursor.execute("SET session_replication_role = replica")
        return self

    def __exit__(self, *exc: object) -> None:
        cursor = self.cursor
        if self.superuser:
            cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in self.indexes:
            cursor.execute(definition)
        for name, definition in self.constraints:
            cursor.execute(
                f'ALTER TABLE endpoints_usagesample ADD CONSTRAINT "{name}" {definition}'
            )


def settle(cursor) -> None:  # type: ignore[no-untyped-def]
    """What an operator does after a bulk load: vacuum, analyse, checkpoint.

    Without it, autovacuum and the checkpointer work on the fresh rows while the
    pages are timed, on the same two cores.
    """
    cursor.execute("VACUUM (ANALYZE) endpoints_usagesample")
    cursor.execute("VACUUM (ANALYZE) endpoints_dailyusage")
    cursor.execute("VACUUM (ANALYZE) endpoints_monthlyusage")
    cursor.execute("ANALYZE")
    cursor.execute("CHECKPOINT")


def rollup_in_sql(cursor) -> int:
    """The daily rollups of every sample, as ``rollup_day`` would write them."""
    cursor.execute("TRUNCATE endpoints_dailyusage")
    cursor.execute(
        """
        INSERT INTO endpoints_dailyusage (date, endpoint_id, use_case_id, team_id, model,
            vendor, location, requests, input_tokens, output_tokens, cost)
        SELECT (s.bucket_start AT TIME ZONE 'UTC')::date, s.endpoint_id, s.use_case_id,
               s.team_id, s.model, e.vendor, e.location, sum(s.requests),
               sum(s.input_tokens), sum(s.output_tokens), coalesce(sum(s.cost), 0)
        FROM endpoints_usagesample s JOIN endpoints_servingendpoint e
          ON e.id = s.endpoint_id
        WHERE s.measure = 'usage'
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        """
    )
    rows = cursor.rowcount
    monthly_in_sql(cursor)
    return rows


def monthly_in_sql(cursor) -> None:  # type: ignore[no-untyped-def]
    """The monthly rollups of the daily ones, as ``rollup_month`` would write them."""
    cursor.execute("TRUNCATE endpoints_monthlyusage")
    cursor.execute(
        """
        INSERT INTO endpoints_monthlyusage (month, endpoint_id, use_case_id, team_id,
            model, vendor, location, requests, input_tokens, output_tokens, cost)
        SELECT date_trunc('month', date)::date, endpoint_id, use_case_id, team_id,
               model, vendor, location, sum(requests), sum(input_tokens),
               sum(output_tokens), sum(cost)
        FROM endpoints_dailyusage
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        """
    )


def daily_rollups_in_sql(
    cursor, *, days: int, today, first_use_case: int, first_endpoint: int
) -> int:  # type: ignore[no-untyped-def]
    """A daily rollup row for every use-case on each of the last ``days`` days."""
    cursor.execute("TRUNCATE endpoints_dailyusage")
    cursor.execute(
        f"""
        INSERT INTO endpoints_dailyusage (date, endpoint_id, use_case_id, team_id, model,
            vendor, location, requests, input_tokens, output_tokens, cost)
        SELECT %(today)s::date - d, e.id, uc.id, uc.team_id, 'model-' || (u %% 5),
               e.vendor, e.location, 100 + (d %% 7), 100000 + (d %% 100),
               20000 + (d %% 30),
               round((1 + (u %% 13) * 0.1 + (d %% 11) * 0.05)::numeric, 6)
        FROM generate_series(0, {USE_CASES - 1}) AS u
        JOIN usecases_usecase uc ON uc.id = %(first_use_case)s + u
        JOIN endpoints_servingendpoint e ON e.id = %(first_endpoint)s + (u %% {ENDPOINTS})
        CROSS JOIN generate_series(0, %(last)s) AS d
        """,
        {
            "today": today,
            "first_use_case": first_use_case,
            "first_endpoint": first_endpoint,
            "last": days - 1,
        },
    )
    rows = cursor.rowcount
    monthly_in_sql(cursor)
    return rows


def check_sums(cursor) -> None:
    cursor.execute("SELECT coalesce(sum(cost), 0) FROM endpoints_usagesample")
    (raw,) = cursor.fetchone()
    cursor.execute("SELECT coalesce(sum(cost), 0) FROM endpoints_dailyusage")
    (rolled,) = cursor.fetchone()
    if raw != rolled:
        raise SystemExit(f"Rollups ({rolled}) differ from the samples ({raw}).")


def timed(client, url: str) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    response = client.get(url, secure=True)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code}")
    return elapsed


def interleaved(
    pages: dict[str, tuple[str, str]],
    databases: tuple[str, str],
    clients: dict[str, dict[str, object]],
    repeat: int,
) -> dict[str, tuple[list[float], list[float]]]:
    """``repeat`` rounds of every page on side A then side B (after two warm-ups)."""
    from django.db import connections

    times: dict[str, tuple[list[float], list[float]]] = {
        name: ([], []) for name in pages
    }
    for round_ in range(repeat + 2):
        for name, (who, url) in pages.items():
            for side, database in enumerate(databases):
                use_database(database)
                connections["default"].ensure_connection()  # not timed
                elapsed = timed(clients[database][who], url)
                if round_ >= 2:
                    times[name][side].append(elapsed)
    return times


def report(
    title: str, labels: tuple[str, str], times: dict[str, tuple[list, list]]
) -> float:
    """Print medians, ranges and ratios; return the worst ratio of medians."""
    log("")
    log(title)
    log(f"{'page':<30} {labels[0]:>22} {labels[1]:>22} {'ratio':>6} {'(range)':>13}")
    worst = 0.0
    for name, (a, b) in times.items():
        ma, mb = statistics.median(a), statistics.median(b)
        ratio = mb / ma
        per_round = [y / x for x, y in zip(a, b, strict=True)]
        worst = max(worst, ratio)
        log(
            f"{name:<30} {ma * 1000:7.1f} ({min(a) * 1000:5.0f}-{max(a) * 1000:<5.0f})"
            f"ms {mb * 1000:7.1f} ({min(b) * 1000:5.0f}-{max(b) * 1000:<5.0f})ms "
            f"{ratio:6.2f} ({min(per_round):.2f}-{max(per_round):.2f})"
        )
    log(
        f"Worst ratio {worst:.2f} (limit {LIMIT}): {'PASS' if worst <= LIMIT else 'FAIL'}."
    )
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=11)
    parser.add_argument("--days", type=int, default=DAYS, help="days of samples")
    parser.add_argument("--only", choices=["days", "samples"])
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()

    admin_url = os.environ.get(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
    )
    if not admin_url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench/dashboard.py needs PostgreSQL (DATABASE_URL).")
    bench_url = with_database(admin_url, BENCH_DB)
    os.environ["DATABASE_URL"] = bench_url
    # DEBUG keeps static files served from the finders (no collectstatic needed);
    # it also records each query, a few per request: negligible here.
    os.environ["DEBUG"] = "1"
    os.environ["ALLOWED_HOSTS"] = "testserver"
    # No connection pool: the bench switches databases by closing the connection.
    os.environ["DB_POOL_MAX"] = "0"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")

    log(f"Creating database {BENCH_DB} … (load average {os.getloadavg()[0]:.2f})")
    recreate_database(admin_url)
    overall = time.perf_counter()
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection, connections
        from django.test import Client

        call_command("migrate", verbosity=0, run_syncdb=True)
        started = time.perf_counter()
        built = build_portfolio()
        log(f"Built {USE_CASES:,} use-cases in {time.perf_counter() - started:.1f} s.")
        board, requester = built["board"], built["requester"]
        first_use_case = built["first_use_case"]
        first_endpoint = built["endpoints"][0].pk
        connections.close_all()
        today = datetime.now(UTC).date()
        kinds = [args.only] if args.only else ["days", "samples"]
        loaded: dict[str, tuple[str, str]] = {}
        for kind in kinds:
            names = (f"{BENCH_DB}_{kind}_a", f"{BENCH_DB}_{kind}_b")
            for side, name in enumerate(names):
                recreate_database(admin_url, name, template=BENCH_DB)
                use_database(name)
                with connection.cursor() as cursor:
                    cursor.execute("SET synchronous_commit TO off")
                    started = time.perf_counter()
                    if kind == "days":
                        days = (MONTH_DAYS, YEAR_DAYS)[side]
                        rows = daily_rollups_in_sql(
                            cursor,
                            days=days,
                            today=today,
                            first_use_case=first_use_case,
                            first_endpoint=first_endpoint,
                        )
                        what = f"{days} days: {rows:,} daily rollups"
                    else:
                        total = (SMALL, args.large)[side]
                        start = datetime.combine(
                            today - timedelta(days=args.days), datetime.min.time(), UTC
                        )
                        with BulkLoad(cursor):
                            insert_samples(
                                cursor,
                                total=total,
                                days=args.days,
                                start=start,
                                first_use_case=first_use_case,
                                first_endpoint=first_endpoint,
                            )
                        rows = rollup_in_sql(cursor)
                        check_sums(cursor)
                        what = f"{total:,} samples: {rows:,} daily rollups"
                    settle(cursor)
                log(
                    f"{kind} {SIDES[side]}: {what} in {time.perf_counter() - started:.1f} s."
                )
            loaded[kind] = names

        pages = {
            "overview (board, 12 months)": ("board", "/portfolio/?period=12m"),
            "overview (requester)": ("requester", "/portfolio/?period=12m"),
            "spend API by use-case": (
                "board",
                "/api/v1/spend/?group_by=use_case&period=month",
            ),
            "spend API by vendor": ("board", "/api/v1/spend/?group_by=vendor"),
        }
        worst = 0.0
        labels = {
            "days": (f"{MONTH_DAYS} days", f"{YEAR_DAYS} days"),
            "samples": (f"{SMALL:,} samples", f"{args.large:,} samples"),
        }
        for kind, names in loaded.items():
            clients: dict[str, dict[str, object]] = {}
            for name in names:
                use_database(name)
                clients[name] = {}
                for who, user in (("board", board), ("requester", requester)):
                    client = Client()
                    client.force_login(user)
                    clients[name][who] = client
            times = interleaved(pages, names, clients, args.repeat)
            worst = max(
                worst,
                report(
                    f"{labels[kind][0]} (A) against {labels[kind][1]} (B), "
                    f"median and range of {args.repeat} interleaved rounds; load "
                    f"average {os.getloadavg()[0]:.2f}",
                    labels[kind],
                    times,
                ),
            )
        log(f"Total {time.perf_counter() - overall:.0f} s.")
        connections.close_all()
        return 0 if worst <= LIMIT else 1
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:
            pass
        if args.keep:
            log("Kept the bench databases.")
        else:
            drop_database(admin_url)
            log("Dropped the bench databases.")


if __name__ == "__main__":
    raise SystemExit(main())
