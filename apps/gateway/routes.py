"""The board's routes (DESIGN §9): validation, the routes in force, and a prefill.

A route sends one workload of a use-case to an ordered list of targets (a
registered, chat-capable serving endpoint and the model it serves, with an
integer weight for a split) and an ordered fallback list of the same shape::

    [{"workload": "classification",
      "targets": [{"endpoint": 3, "model": "llama-3.1-8b", "weight": 1}],
      "fallback": []}]

Data that must stay in our infrastructure may be routed to in-house endpoints
only, in targets and fallback alike. The decision service validates through
:class:`GatewayRouteSupport`, registered with apps.reviews at start-up; the
gateway runtime reads :func:`current_routes`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from apps.endpoints.models import ServingEndpoint
from apps.framework.engine.costs import API, MANAGED, SELF_HOSTED
from apps.framework.models import Assessment
from apps.playground.guard import DataDeclaration
from apps.reviews.models import current_approval
from apps.reviews.routing import TargetEndpoint
from apps.usecases.models import UseCase

ROUTE_KEYS = frozenset({"workload", "targets", "fallback"})
TARGET_KEYS = frozenset({"endpoint", "model", "weight"})
MODEL_MAX_LENGTH = 200
IN_HOUSE = ServingEndpoint.Location.IN_HOUSE
# Where the assessment's hosting outcome for a workload is served from.
HOSTING_LOCATION = {
    SELF_HOSTED: ServingEndpoint.Location.IN_HOUSE,
    MANAGED: ServingEndpoint.Location.EXTERNAL,
    API: ServingEndpoint.Location.EXTERNAL,
}


def current_routes(use_case: UseCase) -> list[dict[str, Any]]:
    """The routes in force: those of the use-case's latest decision when that
    approved it (an amendment included) and it is still approved or live; ``[]``
    otherwise, and for an approval without routes (no gateway traffic)."""
    approval = current_approval(use_case)
    return list(approval.routes) if approval is not None else []


def must_stay_in_house(use_case: UseCase) -> bool:
    """The playground guard's rule: the requester's answer or the current policy
    (classification, special categories) keeps the data in-house."""
    return not DataDeclaration.of_use_case(use_case).may_leave()


def workload_types(use_case: UseCase) -> list[str]:
    """The use-case's task types, largest share first, each once."""
    seen: list[str] = []
    for task_type in use_case.workloads.values_list("task_type", flat=True):
        if task_type not in seen:
            seen.append(task_type)
    return seen


def validate_routes(routes: Any, *, use_case: UseCase) -> list[dict[str, Any]]:
    """The routes, normalised (weight defaults to 1, fallback to ``[]``, model
    names stripped), or ``ValidationError({"routes": [...]})`` with one message
    per problem, each starting with its path (``routes[0].targets[1].endpoint``).

    ``None`` or ``[]`` is no routes; otherwise every workload needs a route.
    """
    if routes is None or routes == []:
        return []
    if not isinstance(routes, list):
        raise _invalid(["routes: must be a list of {workload, targets, fallback}."])
    checker = _Checker(use_case, routes)
    normalised = checker.check()
    if checker.errors:
        raise _invalid(checker.errors)
    return normalised


def _invalid(errors: list[str]) -> ValidationError:
    return ValidationError({"routes": errors})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Checker:
    def __init__(self, use_case: UseCase, routes: list[Any]) -> None:
        self.use_case = use_case
        self.routes = routes
        self.errors: list[str] = []
        self.workloads = workload_types(use_case)
        self.stay = must_stay_in_house(use_case)
        ids = {
            t.get("endpoint")
            for r in routes
            if isinstance(r, dict)
            for key in ("targets", "fallback")
            if isinstance(r.get(key), list)
            for t in r[key]
            if isinstance(t, dict) and _is_int(t.get("endpoint"))
        }
        self.endpoints = ServingEndpoint.objects.in_bulk(ids) if ids else {}

    def check(self) -> list[dict[str, Any]]:
        normalised: list[dict[str, Any]] = []
        routed: dict[str, int] = {}
        for i, route in enumerate(self.routes):
            path = f"routes[{i}]"
            if not isinstance(route, dict):
                self.errors.append(
                    f"{path}: must be an object with workload, targets and fallback."
                )
                continue
            self._unknown_keys(path, route, ROUTE_KEYS)
            workload = route.get("workload")
            if not isinstance(workload, str) or workload not in self.workloads:
                self.errors.append(
                    f"{path}.workload: {workload!r} is not a workload of this "
                    f"use-case; its workloads are {', '.join(self.workloads)}."
                )
            elif workload in routed:
                self.errors.append(
                    f"{path}.workload: {workload} already has a route "
                    f"(routes[{routed[workload]}])."
                )
            else:
                routed[workload] = i
            targets = self._targets(f"{path}.targets", route.get("targets"))
            fallback = self._targets(
                f"{path}.fallback", route.get("fallback", []), primary=targets
            )
            if targets and not any(t["weight"] > 0 for t in targets):
                self.errors.append(
                    f"{path}.targets: at least one weight must be above 0."
                )
            normalised.append(
                {"workload": workload, "targets": targets, "fallback": fallback}
            )
        missing = [w for w in self.workloads if w not in routed]
        if missing:
            self.errors.append(
                "routes: every workload needs a route when routes are given; "
                f"missing: {', '.join(missing)}."
            )
        return normalised

    def _unknown_keys(self, path: str, item: dict, allowed: frozenset[str]) -> None:
        unknown = sorted(str(k) for k in set(item) - allowed)
        if unknown:
            self.errors.append(
                f"{path}: unknown field {', '.join(unknown)}; "
                f"the fields are {', '.join(sorted(allowed))}."
            )

    def _targets(
        self,
        path: str,
        value: Any,
        primary: list[dict[str, Any]] | None = None,
    ) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            self.errors.append(
                f"{path}: must be a list of {{endpoint, model, weight}}."
            )
            return []
        if primary is None and not value:
            self.errors.append(f"{path}: give at least one target.")
        taken = {(t["endpoint"], t["model"]) for t in primary or ()}
        seen: set[tuple[int, str]] = set()
        out = []
        for j, target in enumerate(value):
            checked = self._target(f"{path}[{j}]", target)
            if checked is None:
                continue
            key = (checked["endpoint"], checked["model"])
            if key in seen:
                self.errors.append(
                    f"{path}[{j}]: this endpoint and model is listed twice."
                )
            elif key in taken:
                self.errors.append(
                    f"{path}[{j}]: this endpoint and model is already a target of "
                    "the route; a fallback must be another."
                )
            seen.add(key)
            out.append(checked)
        return out

    def _target(self, path: str, target: Any) -> dict[str, Any] | None:
        if not isinstance(target, dict):
            self.errors.append(
                f"{path}: must be an object with endpoint, model, weight."
            )
            return None
        self._unknown_keys(path, target, TARGET_KEYS)
        errors_before = len(self.errors)
        endpoint_id = target.get("endpoint")
        endpoint = self.endpoints.get(endpoint_id) if _is_int(endpoint_id) else None
        if not _is_int(endpoint_id):
            self.errors.append(f"{path}.endpoint: must be a serving endpoint's id.")
        elif endpoint is None:
            self.errors.append(
                f"{path}.endpoint: no serving endpoint has id {endpoint_id}."
            )
        elif not endpoint.chat_capable:
            self.errors.append(
                f"{path}.endpoint: “{endpoint.name}” does not serve chat completions."
            )
        elif self.stay and endpoint.location != IN_HOUSE:
            self.errors.append(
                f"{path}.endpoint: “{endpoint.name}” is external; this use-case's data "
                "must stay in-house "
                f"({DataDeclaration.of_use_case(self.use_case).describe()}), so "
                "only in-house endpoints may serve it."
            )
        model = target.get("model")
        model = model.strip() if isinstance(model, str) else model
        if not isinstance(model, str) or not model:
            self.errors.append(f"{path}.model: name the model the endpoint serves.")
        elif len(model) > MODEL_MAX_LENGTH:
            self.errors.append(f"{path}.model: at most {MODEL_MAX_LENGTH} characters.")
        elif (
            endpoint is not None
            and endpoint.served_models
            and (model not in endpoint.served_models)
        ):
            self.errors.append(
                f"{path}.model: “{endpoint.name}” does not serve {model}; it serves "
                f"{', '.join(map(str, endpoint.served_models))}."
            )
        weight = target.get("weight", 1)
        if not _is_int(weight) or weight < 0:
            self.errors.append(f"{path}.weight: must be a whole number, 0 or more.")
        if len(self.errors) > errors_before:
            return None
        return {"endpoint": endpoint_id, "model": model, "weight": weight}


def prefill_routes(use_case: UseCase) -> list[dict[str, Any]]:
    """:func:`suggest_routes` for the use-case as stored now."""
    latest = (
        Assessment.objects.filter(use_case=use_case)
        .newest_first()
        .values_list("result", flat=True)
        .first()
    )
    return suggest_routes(
        workloads=workload_types(use_case),
        assessment=latest,
        endpoints=GatewayRouteSupport().endpoints(),
        must_stay=must_stay_in_house(use_case),
    )


def suggest_routes(
    *,
    workloads: list[str],
    assessment: dict[str, Any] | None,
    endpoints: list[TargetEndpoint],
    must_stay: bool,
) -> list[dict[str, Any]]:
    """Routes suggested by an assessment's result: per workload, the first
    endpoint where the assessment hosts it (in-house for self-hosted, external
    for managed or API; in-house only when the data must stay), preferring one
    that serves the assessed model. A workload with no such endpoint, or no
    assessment, gets no target."""
    assessed = {
        w.get("task_type"): w
        for w in ((assessment or {}).get("workloads") or [])
        if isinstance(w, dict)
    }
    routes = []
    for workload in workloads:
        rule = assessed.get(workload)
        targets = []
        if rule is not None:
            location = (
                IN_HOUSE if must_stay else HOSTING_LOCATION.get(rule.get("outcome"))
            )
            target = _suggest(
                [e for e in endpoints if e.location == location],
                [rule.get("model"), rule.get("model_name")],
            )
            if target is not None:
                targets.append(target)
        routes.append({"workload": workload, "targets": targets, "fallback": []})
    return routes


def _suggest(
    candidates: list[TargetEndpoint], names: list[Any]
) -> dict[str, Any] | None:
    wanted = [str(n).lower() for n in names if n]
    for endpoint in candidates:
        for served in endpoint.served_models:
            if any(w in served.lower() or served.lower() in w for w in wanted):
                return {"endpoint": endpoint.id, "model": served, "weight": 1}
    if not candidates:
        return None
    first = candidates[0]
    model = first.served_models[0] if first.served_models else ""
    return {"endpoint": first.id, "model": model, "weight": 1}


class GatewayRouteSupport:
    """What the decision form and service need from the gateway (see
    :mod:`apps.reviews.routing`)."""

    def endpoints(self) -> list[TargetEndpoint]:
        return [
            TargetEndpoint(
                id=e.pk,
                name=e.name,
                location=e.location,
                served_models=tuple(str(m) for m in e.served_models or ()),
            )
            for e in ServingEndpoint.objects.filter(chat_capable=True).order_by("name")
        ]

    def validate(self, routes: Any, *, use_case: UseCase) -> list[dict[str, Any]]:
        return validate_routes(routes, use_case=use_case)

    def prefill(
        self,
        *,
        workloads: list[str],
        assessment: dict[str, Any] | None,
        endpoints: list[TargetEndpoint],
        must_stay: bool,
    ) -> list[dict[str, Any]]:
        return suggest_routes(
            workloads=workloads,
            assessment=assessment,
            endpoints=endpoints,
            must_stay=must_stay,
        )

    def must_stay_in_house(self, use_case: UseCase) -> bool:
        return must_stay_in_house(use_case)
