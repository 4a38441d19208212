"""Upgrade candidates: models that could replace a use-case's routed model.

A model is a candidate for a route target when it is active, not ending within
the policy's horizon, of the same or a higher capability tier than the
incumbent (and the use-case's need), fits the use-case's context, is allowed by
its data profile (in-house only when the data must stay: open weights we can
self-host, or an in-house endpoint serving it), and is cheaper for the
use-case's token profile or newer (released later, or named its successor).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.catalogue.models import CatalogModel
from apps.core.events import Event, EventKind, emit
from apps.endpoints.models import ServingEndpoint
from apps.gateway.routes import must_stay_in_house
from apps.usecases.models import UseCase

from .models import Comparison
from .policy import current_policy
from .routes import CatalogueIndex, routes_in_force, targets_of

TIER_RANK = {"standard": 0, "advanced": 1, "frontier": 2}


def blended_cost(model: CatalogModel, use_case: UseCase) -> Decimal | None:
    """USD a request at the use-case's average tokens, None when unpriced."""
    if model.input_usd_per_mtok is None:
        return None
    tokens_in = Decimal(use_case.avg_input_tokens or 0)
    tokens_out = Decimal(use_case.avg_output_tokens or 0)
    out = model.output_usd_per_mtok or Decimal(0)
    return (tokens_in * model.input_usd_per_mtok + tokens_out * out) / 1_000_000


def why_candidate(
    *,
    candidate: CatalogModel,
    incumbent: CatalogModel,
    use_case: UseCase,
    stay: bool,
    in_house_served: bool,
    horizon: dt.date,
) -> str | None:
    """Why ``candidate`` could replace ``incumbent`` for the use-case, or None."""
    if candidate.pk == incumbent.pk or not candidate.active:
        return None
    end = candidate.end_date()
    if end is not None and end <= horizon:
        return None
    rank = TIER_RANK.get(candidate.capability_tier, -1)
    if rank < TIER_RANK.get(incumbent.capability_tier, 0) or rank < TIER_RANK.get(
        use_case.capability_need, 0
    ):
        return None
    if use_case.context_tokens and candidate.context_window < use_case.context_tokens:
        return None
    if stay and not (in_house_served or "self_hosted" in (candidate.hosting or [])):
        return None
    reasons = []
    if incumbent.successor_id == candidate.pk:
        reasons.append(f"named successor of {incumbent.name}")
    elif (
        candidate.release_date
        and incumbent.release_date
        and candidate.release_date > incumbent.release_date
    ):
        reasons.append(f"newer than {incumbent.name}")
    new_cost = blended_cost(candidate, use_case)
    old_cost = blended_cost(incumbent, use_case)
    if new_cost is not None and old_cost is not None and new_cost < old_cost:
        saving = 100 * (old_cost - new_cost) / old_cost if old_cost else 0
        reasons.append(f"{saving:.0f}% cheaper a request")
    return "; ".join(reasons) or None


def _serving(
    candidate: CatalogModel, endpoints: list[ServingEndpoint], stay: bool
) -> dict[str, Any] | None:
    """An endpoint already serving the candidate that the data allows."""
    names = {
        n.lower() for n in (candidate.key, candidate.name, candidate.litellm_key) if n
    }
    for endpoint in endpoints:
        if stay and endpoint.location != ServingEndpoint.Location.IN_HOUSE:
            continue
        for served in endpoint.served_models or []:
            if (
                str(served).lower() in names
                or str(served).lower().rsplit("/", 1)[-1] in names
            ):
                return {"endpoint": endpoint.pk, "model": str(served)}
    return None


def propose_upgrades(
    *, model_ids: list[int] | None = None, today: dt.date | None = None
) -> list[Comparison]:
    """Propose a comparison for every route target each candidate could replace.

    ``model_ids`` limits the candidates (new models); without, every active model
    is considered (an endpoint may have started serving one). A use-case,
    workload and candidate is proposed once, whatever came of it.
    """
    today = today or timezone.localdate()
    horizon = today + dt.timedelta(days=current_policy().horizon_days)
    candidates = CatalogModel.objects.filter(active=True)
    if model_ids is not None:
        candidates = candidates.filter(pk__in=model_ids)
    candidates = list(candidates.order_by("pk"))
    if not candidates:
        return []
    index = CatalogueIndex()
    endpoints = list(ServingEndpoint.objects.filter(chat_capable=True).order_by("pk"))
    done = set(
        Comparison.objects.values_list("use_case_id", "workload", "candidate_model_id")
    )
    proposed: list[Comparison] = []
    for use_case, routes in routes_in_force():
        stay = must_stay_in_house(use_case)
        for workload, target in targets_of(routes, fallback=False):
            incumbent = index.find(str(target.get("model", "")))
            if incumbent is None:
                continue
            for candidate in candidates:
                if (use_case.pk, workload, candidate.pk) in done:
                    continue
                serving = _serving(candidate, endpoints, stay)
                reason = why_candidate(
                    candidate=candidate,
                    incumbent=incumbent,
                    use_case=use_case,
                    stay=stay,
                    in_house_served=serving is not None and stay,
                    horizon=horizon,
                )
                if reason is None:
                    continue
                done.add((use_case.pk, workload, candidate.pk))
                comparison = _propose(
                    use_case=use_case,
                    workload=workload,
                    incumbent=target,
                    candidate_model=candidate,
                    candidate=serving,
                    reason=reason,
                )
                if comparison is not None:
                    proposed.append(comparison)
    return proposed


def _propose(
    *,
    use_case: UseCase,
    workload: str,
    incumbent: dict[str, Any],
    candidate_model: CatalogModel,
    candidate: dict[str, Any] | None,
    reason: str,
) -> Comparison | None:
    try:
        with transaction.atomic():
            comparison = Comparison.objects.create(
                use_case=use_case,
                workload=workload,
                incumbent={
                    "endpoint": incumbent["endpoint"],
                    "model": incumbent["model"],
                },
                candidate_model=candidate_model,
                candidate=candidate,
                reason=reason,
            )
            emit(
                Event(
                    kind=EventKind.UPGRADE_PROPOSED,
                    key=f"upgrade-proposed:{comparison.pk}",
                    title=f"{use_case.title}: compare {candidate_model.name} with "
                    f"{incumbent['model']}",
                    body=f"{candidate_model.name} is a candidate for the "
                    f"{workload} route ({reason}). Run the use-case's test sets on "
                    "both to see whether it may be adopted.",
                    url=comparison.get_absolute_url(),
                    use_case_id=use_case.pk,
                    team_id=use_case.team_id,
                    user_ids=(use_case.owner_id,),
                    roles=("board",),
                )
            )
    except IntegrityError:  # proposed concurrently
        return None
    return comparison


def on_models_added(sender: Any, model_ids: list[int], **kwargs: Any) -> None:
    """New catalogue models: look for the use-cases they could serve, later."""
    from .tasks import propose_model_upgrades

    propose_model_upgrades.delay(model_ids)
