"""The gateway's part of a decision: the endpoints a route may name, and the check.

Routes (DESIGN §9) name serving endpoints, which live in apps to the right of
this one; so the gateway registers a :class:`RouteSupport` in its
``AppConfig.ready()`` and this app reaches endpoints only through it. Without
one registered, decisions carry no routes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from apps.usecases.models import UseCase

IN_HOUSE = "in_house"


@dataclass(frozen=True)
class TargetEndpoint:
    """A serving endpoint as the routes editor offers it."""

    id: int
    name: str
    location: str
    served_models: tuple[str, ...] = ()

    @property
    def in_house(self) -> bool:
        return self.location == IN_HOUSE

    @property
    def label(self) -> str:
        return f"{self.name} ({'in-house' if self.in_house else 'external'})"


class RouteSupport(Protocol):
    def endpoints(self) -> list[TargetEndpoint]:
        """Chat-capable endpoints a route may name, by name."""

    def validate(self, routes: Any, *, use_case: UseCase) -> list[dict[str, Any]]:
        """Normalised routes, or ``ValidationError({"routes": [...]})``."""

    def prefill(
        self,
        *,
        workloads: list[str],
        assessment: dict[str, Any] | None,
        endpoints: list[TargetEndpoint],
        must_stay: bool,
    ) -> list[dict[str, Any]]:
        """Routes suggested by an assessment's result (its per-workload routing)."""

    def must_stay_in_house(self, use_case: UseCase) -> bool:
        """Whether the use-case's data may go to in-house endpoints only."""


_support: list[RouteSupport] = []


def register_route_support(support: RouteSupport) -> None:
    _support[:] = [support]


def route_support() -> RouteSupport | None:
    return _support[0] if _support else None


def endpoint_index() -> dict[int, TargetEndpoint]:
    """The registered endpoints by id (one query), empty without a gateway."""
    support = route_support()
    return {e.id: e for e in support.endpoints()} if support is not None else {}


def describe_target(
    target: dict[str, Any], endpoints: dict[int, TargetEndpoint]
) -> str:
    endpoint = endpoints.get(target.get("endpoint"))  # type: ignore[arg-type]
    name = endpoint.label if endpoint else f"endpoint {target.get('endpoint')}"
    weight = target.get("weight", 1)
    return f"{name} · {target.get('model')}" + (
        f", weight {weight}" if weight != 1 else ""
    )


def describe_routes(
    routes: list[dict[str, Any]], endpoints: dict[int, TargetEndpoint]
) -> list[str]:
    """One line a route, e.g. "classification → Llama (in-house) · llama-3.1-8b"."""
    lines = []
    for route in routes:
        line = f"{route.get('workload')} → " + ", ".join(
            describe_target(t, endpoints) for t in route.get("targets", [])
        )
        if route.get("fallback"):
            line += "; fallback " + ", ".join(
                describe_target(t, endpoints) for t in route["fallback"]
            )
        lines.append(line)
    return lines
