"""The API against its own schema: schemathesis, every check, as every role.

Run: .venv/bin/python bench/api_fuzz.py [--examples N] [--roles a,b] [--seed N]

Seeds a scratch database (a SQLite file in a temporary directory), issues a
read-write token to each demo role (requester, board, platform, procurement,
auditor), serves the portal as production does (uvicorn, ASGI, ``DEBUG=0``) on
loopback, and runs ``st run --checks all`` with the examples, coverage, fuzzing
and stateful phases, ``--max-examples`` (default 50) per operation, once per
role. Prints operations, test cases and failures for each role and exits 1 on
any failure. About 2 minutes a role on a 2-core machine: too slow for the
suite, whose quick in-process run is ``tests/api/test_fuzz.py``.

OpenAPI cannot state every rule the server keeps; the schema describes them and
the hooks below (loaded by schemathesis from this module) make *positive* cases
keep them, as a well-behaved client would. Negative cases are never touched:
they must still be refused. The rules:

- workload shares add up to 100 (use-cases);
- a use-case is filed for the caller's own team;
- a ``base_url`` passes the URL policy (here: loopback, which the run allows);
- ``start``/``end`` of the spend reports are in order and at most 1,098 days
  apart;
- ids in filters and bodies name rows that exist (team, endpoint, use-case) and
  a target's model is one its endpoint serves;
- a playground target is a chat-capable endpoint: changes to the seeded
  endpoints keep them chat-capable and serving their models;
- a playground run states its data classification or gives a use-case;
- a decision on a use-case already approved or live asks for changes (an
  approval there only amends the routes in force);
- a decision that approves names a pattern (and, in case it overrules the
  framework, the reason); one that requests changes says what to change; its
  routes, which must name the use-case's workloads and served models, are empty
  (the gateway's tests cover them);
- an endpoint's name is unique;
- a gateway key's expiry is in the future.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BIN = Path(PYTHON).parent
ROLES = ["requester", "board", "platform", "procurement", "auditor"]
PHASES = "examples,coverage,fuzzing,stateful"
MAX_SPEND_DAYS = 3 * 366
FIXTURES_ENV = "API_FUZZ_FIXTURES"
IN_FORCE = {"approved", "live"}
BASE_ENV = "API_FUZZ_BASE"

FIXTURES = """
import json
from apps.accounts.models import ApiToken, Team, User
from apps.accounts.services import issue_api_token
from apps.endpoints.models import ServingEndpoint
from apps.usecases.models import UseCase

roles = {roles!r}
out = {{"tokens": {{}}, "teams": {{}}, "use_cases": {{}}}}
for role in roles:
    user = User.objects.get(username=role)
    _, key = issue_api_token(user=user, name="fuzz", scope="write", days=1, by=None)
    out["tokens"][role] = key
    out["teams"][role] = user.team_id
    out["use_cases"][role] = list(
        UseCase.objects.visible_to(user).values_list("pk", flat=True)
    )
out["all_teams"] = list(Team.objects.values_list("pk", flat=True))
out["targets"] = [
    [e.pk, m]
    for e in ServingEndpoint.objects.filter(chat_capable=True)
    for m in (e.served_models or [])
]
print(json.dumps(out))
"""


# Hooks: schemathesis imports this module (SCHEMATHESIS_HOOKS) in its own process.


def _fixtures() -> dict[str, Any]:
    return json.loads(os.environ[FIXTURES_ENV])


def _role() -> str:
    return os.environ["API_FUZZ_ROLE"]


def _is_positive(case: Any) -> bool:
    meta = getattr(case, "meta", None)
    return meta is None or not meta.generation.mode.is_negative


def _as_date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _keep_date_range(query: dict[str, Any]) -> None:
    start, end = _as_date(query.get("start")), _as_date(query.get("end"))
    today = dt.datetime.now(dt.UTC).date()
    if start is None and end is None:
        return
    effective_end = end or today
    if start is None:
        # The default start is months before the end: keep the end near today.
        if abs((effective_end - today).days) > 365:
            query["end"] = today.isoformat()
        return
    if start > effective_end or (effective_end - start).days > MAX_SPEND_DAYS:
        query["start"] = (effective_end - dt.timedelta(days=30)).isoformat()


def _existing(value: Any, choices: list[int]) -> Any:
    if not choices or value in (None, ""):
        return value
    return value if value in choices else choices[abs(hash(str(value))) % len(choices)]


def _keep_targets(targets: Any, known: list[list[Any]]) -> Any:
    if not isinstance(targets, list) or not known:
        return targets
    return [
        {**t, "endpoint": known[i % len(known)][0], "model": known[i % len(known)][1]}
        if isinstance(t, dict)
        else t
        for i, t in enumerate(targets)
    ]


def _keep_shares(workloads: Any) -> Any:
    if not isinstance(workloads, list) or not workloads:
        return workloads
    rows = [w for w in workloads if isinstance(w, dict)]
    if not rows:
        return workloads
    # Distinct task types, shares that add up to 100.
    rows = list({w.get("task_type"): w for w in rows}.values())
    each, rest = divmod(100, len(rows))
    return [{**w, "share": each + (rest if i == 0 else 0)} for i, w in enumerate(rows)]


def _keep_target_endpoint(
    body: dict[str, Any], pk: int, known: list[list[Any]]
) -> None:
    """A change to a seeded playground endpoint keeps it one."""
    models = [m for e, m in known if e == pk]
    if not models:
        return
    if "chat_capable" in body:
        body["chat_capable"] = True
    served = body.get("served_models")
    if isinstance(served, list):
        body["served_models"] = [*served, *(m for m in models if m not in served)]


def _status_of(pk: Any, token: str) -> str | None:
    """The use-case's status now, as a client would read it before deciding."""
    url = f"{os.environ[BASE_ENV]}/api/v1/use-cases/{pk}/"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())["status"]
    except (OSError, ValueError, KeyError):
        return None


def _keep_decision(body: dict[str, Any], status: str | None) -> None:
    if body.get("outcome") == "approved" and status in IN_FORCE:
        # An approval in force is amended by new routes only (the gateway's
        # tests cover those): ask for changes instead.
        body["outcome"] = "changes_requested"
    outcome = body.get("outcome")
    if outcome == "approved" and not body.get("pattern"):
        body["pattern"] = "hybrid"
    reason = body.get("overrule_reason")
    if not isinstance(reason, str) or not reason.strip():
        body["overrule_reason"] = "Chosen by the board in a fuzz run."
    comment = body.get("comment")
    silent = not isinstance(comment, str) or not comment.strip()
    if outcome == "changes_requested" and not body.get("conditions") and silent:
        body["comment"] = "Say more about the data."
    # An approval of one already approved amends its routes: [] keeps none.
    body["routes"] = []


def _keep_declaration(body: dict[str, Any]) -> None:
    if not body.get("use_case") and not body.get("data_classification"):
        body["data_classification"] = "public"


try:  # only where schemathesis loads the hooks
    import schemathesis

    @schemathesis.hook
    def map_case(context: Any, case: Any) -> Any:
        if not _is_positive(case):
            return case
        fixtures = _fixtures()
        role = _role()
        path = case.operation.path
        if isinstance(case.query, dict):
            if "team" in case.query:
                case.query["team"] = _existing(
                    case.query["team"], fixtures["all_teams"]
                )
            if "use_case" in case.query:
                case.query["use_case"] = _existing(
                    case.query["use_case"], fixtures["use_cases"][role]
                )
            if "endpoint" in case.query:
                endpoints = sorted({t[0] for t in fixtures["targets"]})
                case.query["endpoint"] = _existing(case.query["endpoint"], endpoints)
            if path.startswith("/api/v1/spend/"):
                _keep_date_range(case.query)
        body = case.body
        if isinstance(body, dict):
            if "workloads" in body:
                body["workloads"] = _keep_shares(body["workloads"])
            if "team" in body and path.startswith("/api/v1/use-cases/"):
                body["team"] = fixtures["teams"][role]
            if "base_url" in body:
                body["base_url"] = "http://127.0.0.1:9/"
            if "targets" in body:
                body["targets"] = _keep_targets(body["targets"], fixtures["targets"])
            if "use_case" in body and path.startswith("/api/v1/playground/"):
                body["use_case"] = _existing(
                    body["use_case"], fixtures["use_cases"][role]
                )
            if path == "/api/v1/playground/runs/":
                _keep_declaration(body)
            if path == "/api/v1/use-cases/{id}/decision/":
                status = _status_of(
                    (case.path_parameters or {}).get("id"), fixtures["tokens"][role]
                )
                _keep_decision(body, status)
            if path.endswith("/gateway-keys/") and body.get("expires_at"):
                # A key expires in the future (described in the schema).
                body["expires_at"] = (
                    dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
                ).isoformat()
            if path.startswith("/api/v1/endpoints/") and isinstance(
                body.get("name"), str
            ):
                body["name"] = f"{body['name'][:100]} {secrets.token_hex(4)}"
            if path == "/api/v1/endpoints/{id}/":
                pk = (case.path_parameters or {}).get("id")
                _keep_target_endpoint(body, pk, fixtures["targets"])
        return case

except ImportError:  # pragma: no cover - the bench itself needs no hooks
    pass


# The bench.


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    sys.exit("uvicorn did not come up")


def run_role(
    *, role: str, port: int, token: str, args: argparse.Namespace, env: dict[str, str]
) -> dict[str, Any]:
    report = Path(env["PORTAL_VAR_DIR"]) / f"{role}.json"
    output = Path(env["PORTAL_VAR_DIR"]) / f"{role}.txt"
    command = [
        str(BIN / "st"),
        "run",
        f"http://127.0.0.1:{port}/api/schema/?format=json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--phases",
        PHASES,
        "--max-examples",
        str(args.examples),
        "--seed",
        str(args.seed),
        "--workers",
        "1",
        "--report",
        "json",
        "--report-json-path",
        str(report),
        # Scratch tokens and data: show the real bodies in the failure report.
        "--output-sanitize",
        "false",
    ]
    with output.open("w") as out:
        subprocess.run(
            command,
            cwd=ROOT,
            env={**env, "API_FUZZ_ROLE": role},
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    result = json.loads(report.read_text())
    result["output"] = str(output)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=50)
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--keep", action="store_true", help="keep the scratch dir")
    args = parser.parse_args()
    roles = [r for r in args.roles.split(",") if r]

    scratch = Path(tempfile.mkdtemp(prefix="portal-fuzz-"))
    (scratch / "static").mkdir()
    env = {
        **os.environ,
        "PORTAL_VAR_DIR": str(scratch),
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{scratch / 'fuzz.sqlite3'}",
        "API_THROTTLE_RATE": "10000000/minute",
        "PLAYGROUND_THROTTLE_RATE": "10000000/minute",
        "CELERY_BROKER_URL": "memory://",
        "ENDPOINT_ALLOWED_NETWORKS": "127.0.0.0/8",
    }
    server = None
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo")
        fixtures = manage(
            env, "shell", "--no-imports", "-c", FIXTURES.format(roles=roles)
        ).splitlines()[-1]
        tokens = json.loads(fixtures)["tokens"]
        port = free_port()
        serve_env = {
            **env,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "FIELD_ENCRYPTION_KEY": env.get(
                "FIELD_ENCRYPTION_KEY", "ZGV2LW9ubHktZmllbGQtZW5jcnlwdGlvbi1rZXktMzI="
            ),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "ERROR",
        }
        server = subprocess.Popen(
            [
                str(BIN / "uvicorn"),
                "portal.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=serve_env,
            stdout=(scratch / "server.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        wait_until_up(port, time.monotonic() + 60)
        st_env = {
            **env,
            FIXTURES_ENV: fixtures,
            BASE_ENV: f"http://127.0.0.1:{port}",
            "SCHEMATHESIS_HOOKS": "api_fuzz",
            "PYTHONPATH": str(ROOT / "bench"),
        }
        print(
            f"schemathesis --checks all, phases {PHASES}, {args.examples} examples "
            f"an operation, seed {args.seed}; uvicorn on 127.0.0.1:{port}"
        )
        print(f"{'role':<12} {'operations':>10} {'test cases':>10} {'failures':>8}")
        failed = False
        for role in roles:
            result = run_role(
                role=role, port=port, token=tokens[role], args=args, env=st_env
            )
            operations = result["operations"]
            cases = result["test_cases"]
            failures = cases["unique_failures"] + len(result["errors"])
            failed |= bool(failures) or not result["complete"]
            print(
                f"{role:<12} {operations['tested']:>4}/{operations['total']:<5} "
                f"{cases['generated']:>10} {failures:>8}"
                + (f"   see {result['output']}" if failures else ""),
                flush=True,
            )
        if failed:
            args.keep = True
            sys.exit(f"failures: the reports are in {scratch}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
