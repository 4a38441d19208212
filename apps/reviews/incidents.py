"""Incidents: reported by anyone who can see the use-case, handled by its owner
and the board."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.events import Event, EventKind, emit
from apps.usecases.models import AuditEvent, UseCase

from .models import Incident, IncidentAction

if TYPE_CHECKING:
    from apps.accounts.models import User

# Read-only roles report nothing: they change nothing.
NON_REPORTERS = ("auditor",)


def may_report(use_case: UseCase, user: User) -> bool:
    """Anyone who can see the use-case (the caller checked that), bar auditors."""
    return user.is_active and (user.is_superuser or not _only(user, NON_REPORTERS))


def _only(user: User, roles: tuple[str, ...]) -> bool:
    return bool(user.roles) and set(user.roles) <= set(roles)


def may_handle(incident: Incident, user: User) -> bool:
    """The use-case's owner and the board record actions and resolve."""
    return user.is_active and (
        incident.use_case.owner_id == user.pk
        or user.has_role("board")
        or user.is_superuser
    )


def _check(fields: dict[str, str], choices: dict[str, list[str]]) -> None:
    errors: dict[str, list[str]] = {}
    for name, value in fields.items():
        if not value.strip():
            errors[name] = ["This field is required."]
        elif name in choices and value not in choices[name]:
            errors[name] = [f"One of {', '.join(choices[name])}."]
    if errors:
        raise ValidationError(errors)


def report_incident(
    *,
    use_case: UseCase,
    by: User,
    kind: str,
    severity: str,
    title: str,
    description: str,
) -> Incident:
    """Record an incident and tell the owner and the board."""
    if not may_report(use_case, by):
        raise PermissionError("Auditors read incidents; they do not report them.")
    _check(
        {
            "kind": kind,
            "severity": severity,
            "title": title,
            "description": description,
        },
        {"kind": Incident.Kind.values, "severity": Incident.Severity.values},
    )
    with transaction.atomic():
        incident = Incident.objects.create(
            use_case=use_case,
            kind=kind,
            severity=severity,
            title=title.strip()[:200],
            description=description.strip(),
            reported_by=by,
        )
        AuditEvent.record(
            kind="reviews.incident_reported",
            summary=f"Incident reported ({severity}): {incident.title}",
            actor=by,
            use_case=use_case,
            data={"incident_id": incident.pk, "kind": kind, "severity": severity},
        )
        emit(
            Event(
                kind=EventKind.INCIDENT_REPORTED,
                key=f"incident_reported:{incident.pk}",
                title=f"{incident.get_severity_display()} incident on "
                f"“{use_case.title}”: {incident.title}",
                body=incident.description,
                url=use_case.get_absolute_url(),
                use_case_id=use_case.pk,
                actor_id=by.pk,
                user_ids=(use_case.owner_id,),
                roles=("board",),
                context={"severity": severity, "incident_id": incident.pk},
            )
        )
    return incident


def add_incident_action(
    *, incident: Incident, by: User, body: str, resolve: bool = False
) -> IncidentAction:
    """Append an action; with `resolve`, it is the resolution and closes it."""
    if not may_handle(incident, by):
        raise PermissionError("The owner and the board handle incidents.")
    _check({"body": body}, {})
    if incident.status != Incident.Status.OPEN:
        raise ValidationError({"__all__": ["This incident is resolved already."]})
    with transaction.atomic():
        action = IncidentAction.objects.create(
            incident=incident, body=body.strip(), by=by
        )
        if resolve:
            incident.status = Incident.Status.RESOLVED
            incident.resolution = action.body
            incident.resolved_by = by
            incident.resolved_at = timezone.now()
            incident.save(
                update_fields=["status", "resolution", "resolved_by", "resolved_at"]
            )
        AuditEvent.record(
            kind="reviews.incident_action",
            summary=("Incident resolved: " if resolve else "Incident action: ")
            + incident.title,
            actor=by,
            use_case=incident.use_case,
            data={"incident_id": incident.pk, "body": action.body},
        )
    return action
