"""Deprecation watch: use-cases routed to a model that is ending, flagged once."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from apps.catalogue.models import CatalogModel
from apps.core.events import Event, EventKind, emit
from apps.usecases.models import AuditEvent

from .models import DeprecationFlag
from .policy import current_policy
from .routes import CatalogueIndex, routes_in_force, targets_of


def watch_deprecations(*, today: dt.date | None = None) -> list[DeprecationFlag]:
    """Flag every use-case whose routes name a model deprecated or retiring
    within the policy's horizon; returns the flags raised now.

    A flag is made (and its owner and the board notified) once per use-case and
    model; it is resolved when the routes stop naming the model, and opens again
    without a second notice if they name it again.
    """
    today = today or timezone.localdate()
    horizon = today + dt.timedelta(days=current_policy().horizon_days)
    ending = CatalogueIndex(CatalogModel.objects.ending_by(horizon))
    raised: list[DeprecationFlag] = []
    seen: set[tuple[int, int]] = set()
    now = timezone.now()
    for use_case, routes in routes_in_force():
        for _workload, target in targets_of(routes):
            model = ending.find(str(target.get("model", "")))
            if model is None or (use_case.pk, model.pk) in seen:
                continue
            seen.add((use_case.pk, model.pk))
            flag = _flag(
                use_case=use_case, model=model, served=target["model"], today=today
            )
            if flag is not None:
                raised.append(flag)
    for flag in DeprecationFlag.objects.open().select_related("use_case"):
        if (flag.use_case_id, flag.model_id) not in seen:
            flag.resolved_at = now
            flag.save(update_fields=["resolved_at"])
    return raised


def _flag(*, use_case, model: CatalogModel, served: str, today: dt.date):  # type: ignore[no-untyped-def]
    values = {
        "served_model": served,
        "status": model.status_on(today),
        "end_date": model.end_date(),
        "successor": model.successor,
        "resolved_at": None,
    }
    with transaction.atomic():
        flag, created = DeprecationFlag.objects.select_for_update().get_or_create(
            use_case=use_case, model=model, defaults=values
        )
        if not created:
            for name, value in values.items():
                setattr(flag, name, value)
            flag.save(update_fields=list(values))
            return None
        when = f"on {flag.end_date:%d %b %Y}" if flag.end_date else "now"
        successor = (
            f"; suggested successor {model.successor.name}"
            if model.successor is not None
            else "; no successor is named in the catalogue"
        )
        summary = f"{model.name} ({served}) is {flag.get_status_display().lower()}"
        summary += f" or ends {when}{successor}"
        AuditEvent.record(
            kind="lifecycle.model_deprecation",
            summary=summary[:300],
            use_case=use_case,
            data={
                "model": model.key,
                "served_model": served,
                "end_date": flag.end_date.isoformat() if flag.end_date else None,
                "successor": model.successor.key if model.successor else None,
            },
        )
        emit(
            Event(
                kind=EventKind.MODEL_DEPRECATION,
                key=f"model-deprecation:{use_case.pk}:{model.pk}",
                title=f"{use_case.title}: {model.name} ends {when}",
                body=summary,
                url=use_case.get_absolute_url(),
                use_case_id=use_case.pk,
                team_id=use_case.team_id,
                user_ids=(use_case.owner_id,),
                roles=("board",),
                context={
                    "model": model.key,
                    "end_date": flag.end_date.isoformat() if flag.end_date else None,
                    "successor": model.successor.key if model.successor else None,
                },
            )
        )
    return flag
