from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django import forms

from .models import Decision, Pattern
from .routing import TargetEndpoint


def _lines(value: str) -> list[str]:
    return [line.strip() for line in value.splitlines() if line.strip()]


class DecisionForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=Decision.Outcome.choices, widget=forms.RadioSelect
    )
    pattern = forms.ChoiceField(
        choices=[("", "—"), *Pattern.choices],
        required=False,
        help_text="Required to approve. Choosing other than the recommendation "
        "needs a reason.",
    )
    overrule_reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="Reason for overruling the recommendation",
    )
    chosen_models = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        label="Models or endpoints",
        help_text="One a line: catalogue names or endpoints.",
    )
    conditions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="One a line, e.g. “re-review at 50,000 requests a day”; add "
        "“| 2027-01-31” for a due date, “| before go-live” to block going live "
        "until it is met, “| @username” for its owner (default: the requester).",
    )
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        label="Message to the requester",
    )

    def clean_chosen_models(self) -> list[str]:
        return _lines(self.cleaned_data["chosen_models"])

    def clean_conditions(self) -> list[str]:
        return _lines(self.cleaned_data["conditions"])


class CommentForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "Mention with @username"}
        ),
        max_length=5000,
        label="Comment",
    )
    internal = forms.BooleanField(
        required=False, label="Board-internal note (hidden from the requester)"
    )


ROUTE_LISTS = ("targets", "fallback")
MAX_ROWS = 20
ROUTE_PATH = re.compile(
    r"^routes\[(?P<route>\d+)\]"
    r"(?:\.(?P<list>targets|fallback)(?:\[(?P<row>\d+)\](?:\.(?P<field>\w+))?)?"
    r"|\.(?P<own>workload))?: (?P<message>.*)$",
    re.DOTALL,
)


@dataclass
class RouteRows:
    """One workload's rows in the editor, for the template."""

    workload: str
    label: str
    rule: str
    targets: list[dict[str, forms.BoundField]]
    fallback: list[dict[str, forms.BoundField]]
    errors: list[str] = field(default_factory=list)


class RoutesForm(forms.Form):
    """The routes editor: per workload, rows (endpoint, model, weight) of targets
    and of fallback. ``routes`` holds the DESIGN §9 shape once valid (``None``
    when routes are optional and not given); the gateway validates the rest."""

    prefix = "routes"

    give = forms.BooleanField(
        required=False,
        label="Route gateway traffic for this use-case",
        help_text="Optional: a use-case approved without routes gets no gateway "
        "traffic. Routes can be amended later.",
    )

    def __init__(
        self,
        data: Any = None,
        *,
        workloads: list[tuple[str, str]],
        endpoints: list[TargetEndpoint],
        initial_routes: list[dict[str, Any]] = (),  # type: ignore[assignment]
        rules: dict[str, str] | None = None,
        optional: bool = True,
        give: bool = False,
        add_row: str = "",
    ) -> None:
        super().__init__(data, initial={"give": give})
        self.workloads = workloads
        self.endpoints = endpoints
        self.rules = rules or {}
        self.optional = optional
        self.routes: list[dict[str, Any]] | None = None
        self.general_errors: list[str] = []
        if not optional:
            del self.fields["give"]
        initial = {r.get("workload"): r for r in initial_routes}
        choices = [("", "—"), *((str(e.id), e.label) for e in endpoints)]
        # Which row each submitted target came from, to put errors beside it.
        self._rows: dict[tuple[int, str, int], int] = {}
        self.counts: dict[tuple[str, str], int] = {}
        for task, _label in workloads:
            for kind in ROUTE_LISTS:
                rows = list(initial.get(task, {}).get(kind, []))
                count = self._count(task, kind, default=max(len(rows), 1))
                if add_row == f"{task}-{kind}":
                    count = min(count + 1, MAX_ROWS)
                self.counts[task, kind] = count
                self.fields[f"{task}-{kind}-rows"] = forms.IntegerField(
                    widget=forms.HiddenInput, initial=count, required=False
                )
                for j in range(count):
                    row = rows[j] if j < len(rows) else {}
                    name = f"{task}-{kind}-{j}"
                    self.fields[f"{name}-endpoint"] = forms.ChoiceField(
                        choices=choices,
                        required=False,
                        label="Endpoint",
                        initial=str(row.get("endpoint") or ""),
                    )
                    self.fields[f"{name}-model"] = forms.CharField(
                        required=False,
                        max_length=200,
                        label="Model",
                        initial=row.get("model", ""),
                        widget=forms.TextInput(attrs={"list": "served-models"}),
                    )
                    self.fields[f"{name}-weight"] = forms.IntegerField(
                        required=False,
                        min_value=0,
                        label="Weight",
                        initial=row.get("weight", 1),
                    )
        if data is not None:
            # A re-rendered row count must follow the rows actually shown.
            data = data.copy()
            for (task, kind), count in self.counts.items():
                data[self.add_prefix(f"{task}-{kind}-rows")] = str(count)
            self.data = data

    def _count(self, task: str, kind: str, *, default: int) -> int:
        if not self.is_bound:
            return default
        try:
            value = int(self.data.get(self.add_prefix(f"{task}-{kind}-rows"), ""))
        except ValueError:
            return default
        return max(0, min(value, MAX_ROWS))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.optional and not cleaned.get("give"):
            self.routes = None
            return cleaned
        routes = []
        for i, (task, _label) in enumerate(self.workloads):
            route: dict[str, Any] = {"workload": task}
            for kind in ROUTE_LISTS:
                items = []
                for j in range(self.counts[task, kind]):
                    name = f"{task}-{kind}-{j}"
                    endpoint = cleaned.get(f"{name}-endpoint") or ""
                    model = cleaned.get(f"{name}-model") or ""
                    if not endpoint and not model.strip():
                        continue
                    weight = cleaned.get(f"{name}-weight")
                    self._rows[i, kind, len(items)] = j
                    items.append(
                        {
                            "endpoint": int(endpoint) if endpoint else None,
                            "model": model,
                            "weight": 1 if weight is None else weight,
                        }
                    )
                route[kind] = items
            routes.append(route)
        if not self.optional and not any(r["targets"] or r["fallback"] for r in routes):
            routes = []  # every row empty: remove the routes
        self.routes = routes
        return cleaned

    def add_route_errors(self, messages: list[str]) -> None:
        """Put the gateway's path-prefixed messages beside the rows they are about."""
        self._route_errors: dict[int, list[str]] = {}
        for message in messages:
            match = ROUTE_PATH.match(message)
            if match is None or int(match["route"]) >= len(self.workloads):
                self.general_errors.append(message.removeprefix("routes: "))
                continue
            i = int(match["route"])
            task = self.workloads[i][0]
            row = match["row"]
            if match["list"] and row is not None and match["field"]:
                j = self._rows.get((i, match["list"], int(row)))
                name = f"{task}-{match['list']}-{j}-{match['field']}"
                if j is not None and name in self.fields:
                    self.add_error(name, match["message"])
                    continue
            self._route_errors.setdefault(i, []).append(match["message"])
        if self.general_errors or self._route_errors:
            self.add_error(None, "The routes need attention: see below.")

    def editor(self) -> list[RouteRows]:
        errors = getattr(self, "_route_errors", {})
        out = []
        for i, (task, label) in enumerate(self.workloads):
            lists = {
                kind: [
                    {
                        part: self[f"{task}-{kind}-{j}-{part}"]
                        for part in ("endpoint", "model", "weight")
                    }
                    for j in range(self.counts[task, kind])
                ]
                for kind in ROUTE_LISTS
            }
            out.append(
                RouteRows(
                    workload=task,
                    label=label,
                    rule=self.rules.get(task, ""),
                    targets=lists["targets"],
                    fallback=lists["fallback"],
                    errors=errors.get(i, []),
                )
            )
        return out

    def hidden_counts(self) -> list[forms.BoundField]:
        return [self[f"{t}-{k}-rows"] for (t, k) in self.counts]

    def served_models(self) -> list[tuple[str, str]]:
        """(model, endpoint) pairs for the model field's suggestions."""
        return [(m, e.name) for e in self.endpoints for m in e.served_models]
