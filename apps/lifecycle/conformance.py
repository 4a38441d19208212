"""Decision conformance: live traffic that strays from the routes in force.

Run after every collection cycle (a beat task at the collection's pace), over
the usage that reached the ledger since the last check: usage of an endpoint and
model no route names, any external usage for data that must stay in-house, and
a split further than the policy's tolerance from the approved weights. The
portal's own calls (playground, test sets, comparisons) are evaluation, not
live traffic, and are left out.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.events import Event, EventKind, emit
from apps.endpoints.models import ServingEndpoint, UsageSample
from apps.endpoints.services.registration import PORTAL_SERIES_PREFIX
from apps.gateway.routes import must_stay_in_house
from apps.usecases.models import AuditEvent, UseCase

from .models import ConformanceFlag, ObservedSample
from .policy import LifecyclePolicy, current_policy
from .routes import routes_in_force, targets_of

Kind = ConformanceFlag.Kind


@dataclass(frozen=True)
class Problem:
    kind: str
    key: str
    detail: str
    requests: int
    endpoint_id: int | None = None
    model: str = ""


#: Ledger rows older than this are not read again (their traffic is history).
RECENT = timedelta(days=2)


def new_traffic(*, now: datetime) -> dict[int, dict[tuple[int, str], int]]:
    """Requests that reached the ledger since the last check, by use-case, then
    (endpoint, model); the portal's own calls left out. Remembers what it read."""
    rows = list(
        UsageSample.objects.filter(
            use_case__isnull=False,
            bucket_end__gt=now - RECENT,
            requests__gt=0,
            measure__in=[UsageSample.Measure.USAGE, UsageSample.Measure.GATEWAY],
        )
        .exclude(series__startswith=PORTAL_SERIES_PREFIX)
        .values_list("pk", "use_case_id", "endpoint_id", "model", "measure", "requests")
    )
    seen = dict(
        ObservedSample.objects.filter(sample_id__in=[r[0] for r in rows]).values_list(
            "sample_id", "requests"
        )
    )
    traffic: dict[int, dict[tuple[int, str], int]] = defaultdict(dict)
    gateway: dict[int, dict[tuple[int, str], int]] = defaultdict(dict)
    changed = []
    for pk, use_case_id, endpoint_id, model, measure, requests in rows:
        delta = requests - seen.get(pk, 0)
        if delta <= 0:
            continue
        changed.append(ObservedSample(sample_id=pk, requests=requests))
        into = gateway if measure == UsageSample.Measure.GATEWAY else traffic
        key = (endpoint_id, model or "")
        into[use_case_id][key] = into[use_case_id].get(key, 0) + delta
    ObservedSample.objects.bulk_create(
        changed,
        update_conflicts=True,
        unique_fields=["sample"],
        update_fields=["requests"],
    )
    # A gateway attribution repeats usage its endpoint's collector counts too:
    # the larger of the two is the traffic, never their sum.
    for use_case_id, pairs in gateway.items():
        for key, total in pairs.items():
            mine = traffic[use_case_id]
            mine[key] = max(mine.get(key, 0), total)
    return dict(traffic)


def problems_of(
    *,
    use_case: UseCase,
    routes: list[dict[str, Any]],
    traffic: dict[tuple[int, str], int],
    endpoints: dict[int, ServingEndpoint],
    stay: bool,
    policy: LifecyclePolicy,
) -> list[Problem]:
    """What in the traffic contradicts the routes (pure but for names)."""
    problems: list[Problem] = []
    approved = {(t.get("endpoint"), t.get("model")) for _, t in targets_of(routes)}
    for (endpoint_id, model), requests in sorted(traffic.items()):
        endpoint = endpoints.get(endpoint_id)
        name = endpoint.name if endpoint else f"endpoint {endpoint_id}"
        if stay and endpoint is not None and endpoint.location != "in_house":
            problems.append(
                Problem(
                    Kind.EXTERNAL_MUST_STAY,
                    f"external:{endpoint_id}",
                    f"{requests:,} request(s) went to the external endpoint {name}, "
                    "but this use-case's data must stay in-house.",
                    requests,
                    endpoint_id,
                    model,
                )
            )
        if routes and (endpoint_id, model) not in approved:
            problems.append(
                Problem(
                    Kind.UNAPPROVED_ROUTE,
                    f"route:{endpoint_id}:{model}",
                    f"{requests:,} request(s) went to {model or 'a model'} on {name}, "
                    "which no approved route names.",
                    requests,
                    endpoint_id,
                    model,
                )
            )
    problems.extend(_split_problems(routes, traffic, policy))
    return problems


def _split_problems(
    routes: list[dict[str, Any]],
    traffic: dict[tuple[int, str], int],
    policy: LifecyclePolicy,
) -> list[Problem]:
    # Usage rows carry no workload, so a split is judged where one route (the
    # use-case's only one) splits traffic over several weighted targets.
    if len(routes) != 1:
        return []
    targets = [t for t in routes[0].get("targets") or [] if t.get("weight", 1) > 0]
    if len(targets) < 2:
        return []
    weights = {(t["endpoint"], t["model"]): t.get("weight", 1) for t in targets}
    served = {key: traffic.get(key, 0) for key in weights}
    total = sum(served.values())
    if total < policy.split_min_requests:
        return []
    all_weight = sum(weights.values())
    problems = []
    for key, weight in weights.items():
        expected = 100 * weight / all_weight
        actual = 100 * served[key] / total
        if abs(actual - expected) > policy.split_tolerance_pct:
            problems.append(
                Problem(
                    Kind.SPLIT,
                    f"split:{key[0]}:{key[1]}",
                    f"{key[1]} on endpoint {key[0]} served {actual:.0f}% of the "
                    f"route's requests; the approved weight is {expected:.0f}% "
                    f"(tolerance {policy.split_tolerance_pct:g} points).",
                    served[key],
                    key[0],
                    key[1],
                )
            )
    return problems


@dataclass
class ConformanceReport:
    flagged: list[ConformanceFlag]
    cleared: list[ConformanceFlag]


def check_conformance(*, now: datetime | None = None) -> ConformanceReport:
    """Flag what strays in the traffic since the last check; clear a flag once
    the use-case's new traffic conforms, or none of the kind came for the
    policy's window."""
    now = now or timezone.now()
    policy = current_policy()
    traffic = new_traffic(now=now)
    endpoint_ids = {e for pairs in traffic.values() for e, _ in pairs}
    endpoints = ServingEndpoint.objects.in_bulk(list(endpoint_ids))
    found: dict[int, list[Problem]] = {}
    cases: dict[int, UseCase] = {}
    for use_case, routes in routes_in_force(list(traffic)):
        cases[use_case.pk] = use_case
        found[use_case.pk] = problems_of(
            use_case=use_case,
            routes=routes,
            traffic=traffic[use_case.pk],
            endpoints=endpoints,
            stay=must_stay_in_house(use_case),
            policy=policy,
        )
    # Traffic of a use-case with no routes in force is judged on its data alone.
    for use_case in UseCase.objects.filter(pk__in=set(traffic) - set(cases)):
        cases[use_case.pk] = use_case
        found[use_case.pk] = problems_of(
            use_case=use_case,
            routes=[],
            traffic=traffic[use_case.pk],
            endpoints=endpoints,
            stay=must_stay_in_house(use_case),
            policy=policy,
        )
    report = ConformanceReport(flagged=[], cleared=[])
    current = {(uc, p.key) for uc, problems in found.items() for p in problems}
    for use_case_id, problems in found.items():
        for problem in problems:
            flag = _raise(cases[use_case_id], problem, now)
            if flag is not None:
                report.flagged.append(flag)
    quiet_since = now - policy.conformance_window
    for flag in ConformanceFlag.objects.open().select_related("use_case"):
        if (flag.use_case_id, flag.key) in current:
            continue
        if flag.use_case_id in traffic or flag.last_seen <= quiet_since:
            _clear(flag, now)
            report.cleared.append(flag)
    return report


def _raise(
    use_case: UseCase, problem: Problem, now: datetime
) -> ConformanceFlag | None:
    with transaction.atomic():
        flag = (
            ConformanceFlag.objects.select_for_update()
            .open()
            .filter(use_case=use_case, key=problem.key)
            .first()
        )
        if flag is not None:
            flag.last_seen, flag.requests, flag.detail = (
                now,
                problem.requests,
                (problem.detail),
            )
            flag.save(update_fields=["last_seen", "requests", "detail"])
            return None
        flag = ConformanceFlag.objects.create(
            use_case=use_case,
            kind=problem.kind,
            key=problem.key,
            endpoint_id_seen=problem.endpoint_id,
            model_seen=problem.model,
            detail=problem.detail,
            requests=problem.requests,
            first_seen=now,
            last_seen=now,
        )
        AuditEvent.record(
            kind="lifecycle.conformance_flagged",
            summary=f"Traffic strays from the decision: {problem.detail}",
            use_case=use_case,
            data={"flag_id": flag.pk, "kind": flag.kind, "key": flag.key},
        )
        emit(
            Event(
                kind=EventKind.CONFORMANCE_FLAGGED,
                key=f"conformance:{flag.pk}",
                title=f"{use_case.title}: {flag.get_kind_display().lower()}",
                body=problem.detail,
                url=use_case.get_absolute_url(),
                use_case_id=use_case.pk,
                team_id=use_case.team_id,
                user_ids=(use_case.owner_id,),
                roles=("board", "platform"),
                context={"kind": flag.kind, "key": flag.key},
            )
        )
    return flag


def _clear(flag: ConformanceFlag, now: datetime) -> None:
    with transaction.atomic():
        updated = ConformanceFlag.objects.filter(
            pk=flag.pk, cleared_at__isnull=True
        ).update(cleared_at=now)
        if not updated:
            return
        flag.cleared_at = now
        AuditEvent.record(
            kind="lifecycle.conformance_cleared",
            summary=f"Traffic conforms again: {flag.get_kind_display().lower()} "
            f"({flag.key}) cleared",
            use_case=flag.use_case,
            data={"flag_id": flag.pk, "kind": flag.kind, "key": flag.key},
        )
