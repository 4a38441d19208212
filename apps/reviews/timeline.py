"""A use-case's audit trail, read from every append-only source, oldest first.

Field changes come from simple_history (consecutive records diffed), moves from
`Transition`, other apps' events from `AuditEvent`, and the board's record from
`Comment` and `Decision`. Each source is one query, whatever its length.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils.text import capfirst

from apps.accounts.models import Team
from apps.usecases.models import AuditEvent, UseCase, Workload

from .models import Comment, Decision
from .routing import describe_routes, endpoint_index

if TYPE_CHECKING:
    from apps.accounts.models import User

# Shown as transitions, not as field changes.
LIFECYCLE_FIELDS = {"status", "submitted_at", "updated_at"}
# Kinds this app records for other readers; the timeline shows its own rows instead.
OWN_AUDIT_KINDS = ("reviews.decision", "reviews.routes_amended")
# Approval stages, conditions and incidents: shown with their details.
RISK_DETAIL_KEYS = ("reason", "evidence", "body")
# The framework records each stored assessment as an audit event of this kind.
ASSESSED = "framework.assessed"
KIND_ORDER = {
    "created": 0,
    "change": 1,
    "workloads": 2,
    "transition": 3,
    "assessment": 4,
    "event": 5,
    "decision": 6,
    "comment": 7,
}


@dataclass(frozen=True)
class Entry:
    """One line of the trail."""

    kind: str
    at: datetime
    actor: User | None
    summary: str
    details: list[str] = field(default_factory=list)
    internal: bool = False

    @property
    def actor_name(self) -> str:
        if self.actor is None:
            return "system"
        return self.actor.get_full_name() or self.actor.username

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "at": self.at.isoformat(),
            "actor": self.actor.username if self.actor else None,
            "summary": self.summary,
            "details": self.details,
            "internal": self.internal,
        }


def build_timeline(*, use_case: UseCase, user: User) -> list[Entry]:
    """Everything that happened to the use-case that `user` may read, oldest first."""
    records = list(
        use_case.history.select_related("history_user").order_by(
            "history_date", "history_id"
        )
    )
    entries = [
        *_field_changes(records, use_case),
        *_workload_changes(use_case, [r.history_date for r in records]),
        *_transitions(use_case),
        *_audit_events(use_case),
        *_decisions(use_case),
        *_comments(use_case, user),
    ]
    entries.sort(key=lambda e: (e.at, KIND_ORDER.get(e.kind, 9)))
    return entries


def _display(name: str, value: Any, teams: dict[int, str]) -> str:
    if value in (None, "", []):
        return "—"
    if name == "team":
        return teams.get(value, str(value))
    model_field = UseCase._meta.get_field(name)
    if model_field.choices:
        labels = dict(model_field.choices)
        if isinstance(value, list):
            return ", ".join(str(labels.get(v, v)) for v in value)
        return str(labels.get(value, value))
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "…"


def _field_changes(records: list[Any], use_case: UseCase) -> list[Entry]:
    deltas = []
    team_ids: set[int] = set()
    for previous, record in zip([None, *records], records, strict=False):
        if previous is None:
            deltas.append((record, []))
            continue
        changes = [
            c
            for c in record.diff_against(previous).changes
            if c.field not in LIFECYCLE_FIELDS
        ]
        team_ids.update(c.old for c in changes if c.field == "team")
        team_ids.update(c.new for c in changes if c.field == "team")
        deltas.append((record, changes))
    teams = (
        dict(Team.objects.filter(pk__in=team_ids).values_list("pk", "name"))
        if team_ids
        else {}
    )
    entries = []
    for record, changes in deltas:
        if record.history_type == "+":
            entries.append(
                Entry(
                    "created",
                    record.history_date,
                    # Without a request (seed, API token) the creator is the owner.
                    record.history_user or use_case.owner,
                    f"Created “{record.title}” as a draft.",
                )
            )
        elif changes:
            labels = [
                f"{capfirst(UseCase._meta.get_field(c.field).verbose_name)}: "
                f"{_display(c.field, c.old, teams)} → {_display(c.field, c.new, teams)}"
                for c in changes
            ]
            entries.append(
                Entry(
                    "change",
                    record.history_date,
                    record.history_user,
                    f"Changed {len(changes)} field{'s' if len(changes) > 1 else ''}.",
                    labels,
                )
            )
    return entries


def _workload_set(rows: dict[int, tuple[str, int, str]]) -> str:
    labels = dict(Workload._meta.get_field("task_type").choices)
    parts = sorted(rows.values(), key=lambda r: (-r[1], r[0]))
    return (
        "; ".join(
            f"{share}% {str(labels.get(task, task)).lower()}"
            + (f" ({notes})" if notes else "")
            for task, share, notes in parts
        )
        or "none"
    )


def _workload_changes(use_case: UseCase, saves: list[datetime]) -> list[Entry]:
    """Workload rows are replaced as a set on every save of the use-case, so the
    rows written after one save of the use-case and before the next are one entry."""
    records = (
        Workload.history.filter(use_case_id=use_case.pk)
        .select_related("history_user")
        .order_by("history_date", "history_id")
    )
    current: dict[int, tuple[str, int, str]] = {}
    entries: list[Entry] = []
    batch: list[Any] = []

    def close_batch() -> None:
        before = _workload_set(current)
        for rec in batch:
            if rec.history_type == "-":
                current.pop(rec.id, None)
            else:
                current[rec.id] = (rec.task_type, rec.share, rec.notes)
        after = _workload_set(current)
        if before != after:
            first = before == "none" and batch_save == 1
            entries.append(
                Entry(
                    "workloads",
                    batch[-1].history_date,
                    batch[-1].history_user or (use_case.owner if first else None),
                    "Workloads changed." if before != "none" else "Workloads set.",
                    [f"{before} → {after}" if before != "none" else after],
                )
            )

    batch_save = None
    for record in records:
        save = bisect_right(saves, record.history_date)
        if batch and save != batch_save:
            close_batch()
            batch = []
        batch_save = save
        batch.append(record)
    if batch:
        close_batch()
    return entries


def _transitions(use_case: UseCase) -> list[Entry]:
    return [
        Entry(
            "transition",
            t.created_at,
            t.actor,
            f"{t.get_to_status_display()} (from {t.get_from_status_display().lower()}).",
            [t.comment] if t.comment else [],
        )
        for t in use_case.transitions.select_related("actor")
    ]


def _audit_events(use_case: UseCase) -> list[Entry]:
    events = use_case.audit_events.select_related("actor")
    for kind in OWN_AUDIT_KINDS:
        events = events.exclude(kind__startswith=kind)
    return [_audit_entry(e) for e in events]


def _audit_entry(event: AuditEvent) -> Entry:
    if event.kind == ASSESSED:
        cost = event.data.get("monthly_cost")
        details = [f"Estimated monthly cost: ${cost:,.0f}"] if cost is not None else []
        return Entry(
            "assessment", event.created_at, event.actor, event.summary, details
        )
    if event.kind.startswith("risk.") or event.kind.startswith("reviews."):
        details = [
            f"{key.capitalize()}: {event.data[key]}"
            for key in RISK_DETAIL_KEYS
            if event.data.get(key)
        ]
        return Entry(
            event.kind.partition(".")[2],
            event.created_at,
            event.actor,
            event.summary,
            details,
        )
    return Entry("event", event.created_at, event.actor, event.summary, [event.kind])


def _decisions(use_case: UseCase) -> list[Entry]:
    entries = []
    decisions = list(
        Decision.objects.filter(use_case=use_case).select_related("decided_by")
    )
    endpoints = endpoint_index() if any(d.routes for d in decisions) else {}
    for d in decisions:
        if d.is_amendment:
            lines = [f"Route: {line}" for line in describe_routes(d.routes, endpoints)]
            entries.append(
                Entry(
                    "decision",
                    d.created_at,
                    d.decided_by,
                    "Board amended the routes.",
                    (lines or ["No routes: the use-case gets no gateway traffic."])
                    + ([d.comment] if d.comment.partition(": ")[2] else []),
                )
            )
            continue
        details = []
        if d.pattern:
            details.append(f"Pattern: {d.get_pattern_display()}")
        if d.overrules:
            details.append(
                f"Overrules the recommendation ({d.get_recommended_pattern_display()}): "
                f"{d.overrule_reason}"
            )
        if d.chosen_models:
            details.append("Models: " + ", ".join(d.chosen_models))
        details.extend(f"Condition: {c}" for c in d.conditions)
        details.extend(
            f"Route: {line}" for line in describe_routes(d.routes, endpoints)
        )
        if d.comment:
            details.append(d.comment)
        entries.append(
            Entry(
                "decision",
                d.created_at,
                d.decided_by,
                f"Board decision: {d.outcome_label.lower()}.",
                details,
            )
        )
    return entries


def _comments(use_case: UseCase, user: User) -> list[Entry]:
    comments = (
        Comment.objects.visible_to(user)
        .filter(use_case=use_case)
        .select_related("author")
    )
    return [
        Entry(
            "comment",
            c.created_at,
            c.author,
            "Internal note." if c.internal else "Comment.",
            [c.body],
            internal=c.internal,
        )
        for c in comments
    ]
