"""Shared reads: the routes in force per use-case, and served names to models."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from apps.catalogue.models import CatalogModel
from apps.reviews.models import IN_FORCE, approval_among, latest_decisions
from apps.usecases.models import UseCase


def routes_in_force(
    use_case_ids: list[int] | None = None,
) -> Iterator[tuple[UseCase, list[dict[str, Any]]]]:
    """(use-case, routes) for every approved or live use-case with routes."""
    cases = UseCase.objects.filter(status__in=IN_FORCE).select_related("owner")
    if use_case_ids is not None:
        cases = cases.filter(pk__in=use_case_ids)
    for use_case in cases.prefetch_related(latest_decisions()).order_by("pk"):
        approval = approval_among(list(use_case.decisions.all()), use_case)
        if approval is not None and approval.routes:
            yield use_case, list(approval.routes)


def targets_of(
    routes: list[dict[str, Any]], *, fallback: bool = True
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(workload, target) of every target (and fallback) of the routes."""
    for route in routes:
        keys = ("targets", "fallback") if fallback else ("targets",)
        for key in keys:
            for target in route.get(key) or []:
                yield str(route.get("workload", "")), target


class CatalogueIndex:
    """Catalogue models by every name a served model may carry (one query)."""

    def __init__(self, queryset: Any = None) -> None:
        rows = queryset if queryset is not None else CatalogModel.objects.all()
        self._by_name: dict[str, CatalogModel] = {}
        for model in rows.select_related("successor"):
            for name in (model.key, model.name, model.litellm_key):
                if name:
                    self._by_name.setdefault(name.lower(), model)

    def find(self, served: str) -> CatalogModel | None:
        """The model a served name stands for; an organisation prefix
        ("meta-llama/...") is tried without."""
        name = (served or "").lower()
        return self._by_name.get(name) or self._by_name.get(name.rsplit("/", 1)[-1])
