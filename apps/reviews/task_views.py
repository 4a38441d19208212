"""Pages for condition tasks and incidents (a panel on the use-case page)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.usecases.access import get_use_case_for
from apps.usecases.models import UseCase

from . import conditions, incidents
from .models import Condition, Incident

if TYPE_CHECKING:
    from apps.accounts.models import User

TEMPLATE = "reviews/review_tasks.html"


class ResolveConditionForm(forms.Form):
    status = forms.ChoiceField(
        choices=[
            (Condition.Status.DONE, "Done"),
            (Condition.Status.WAIVED, "Waived (board)"),
        ]
    )
    evidence = forms.CharField(
        max_length=2000,
        required=False,
        help_text="What shows it is met (a link, a report number), or why it is waived.",
    )


class IncidentForm(forms.Form):
    kind = forms.ChoiceField(choices=Incident.Kind.choices)
    severity = forms.ChoiceField(choices=Incident.Severity.choices)
    title = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class IncidentActionForm(forms.Form):
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), label="Action taken"
    )
    resolve = forms.BooleanField(required=False, label="This resolves the incident")


def tasks_context(
    use_case: UseCase,
    user: User,
    *,
    incident_form: IncidentForm | None = None,
    bound: dict[str, Any] | None = None,
) -> dict[str, Any]:
    bound = bound or {}
    tasks = list(Condition.objects.filter(use_case=use_case).for_list())
    reports = list(
        Incident.objects.filter(use_case=use_case)
        .for_list()
        .prefetch_related("actions__by")
    )
    return {
        "use_case": use_case,
        "conditions": [
            {
                "condition": c,
                "form": bound.get(f"condition-{c.pk}", ResolveConditionForm())
                if c.is_unresolved and conditions.may_resolve(c, user)
                else None,
            }
            for c in tasks
        ],
        "incidents": [
            {
                "incident": i,
                "form": bound.get(f"incident-{i.pk}", IncidentActionForm())
                if i.status == Incident.Status.OPEN and incidents.may_handle(i, user)
                else None,
            }
            for i in reports
        ],
        "incident_form": (incident_form or IncidentForm())
        if incidents.may_report(use_case, user)
        else None,
    }


def _fragment(request: HttpRequest) -> str:
    return (
        f"{TEMPLATE}#tasks" if request.htmx and not request.htmx.boosted else TEMPLATE
    )


@login_required
@require_GET
def panel(request: HttpRequest, pk: int) -> HttpResponse:
    use_case = get_use_case_for(request.user, pk)
    return render(request, _fragment(request), tasks_context(use_case, request.user))


def _apply_errors(form: forms.Form, exc: ValidationError) -> None:
    for name, errors in exc.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


@login_required
@require_POST
def resolve(request: HttpRequest, condition_pk: int) -> HttpResponse:
    condition = get_object_or_404(Condition, pk=condition_pk)
    use_case = get_use_case_for(request.user, condition.use_case_id)
    if not conditions.may_resolve(condition, request.user):
        raise PermissionDenied("Only the condition's owner or the board resolves it.")
    form = ResolveConditionForm(request.POST)
    if form.is_valid():
        try:
            conditions.resolve_condition(
                condition=condition, by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "Condition updated.")
            return redirect(use_case)
    context = tasks_context(
        use_case, request.user, bound={f"condition-{condition.pk}": form}
    )
    return render(request, TEMPLATE, context, status=400)


@login_required
@require_POST
def report(request: HttpRequest, pk: int) -> HttpResponse:
    use_case = get_use_case_for(request.user, pk)
    if not incidents.may_report(use_case, request.user):
        raise PermissionDenied("Auditors read incidents; they do not report them.")
    form = IncidentForm(request.POST)
    if form.is_valid():
        try:
            incidents.report_incident(
                use_case=use_case, by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(
                request, "Incident reported: the owner and board are told."
            )
            return redirect(use_case)
    context = tasks_context(use_case, request.user, incident_form=form)
    return render(request, TEMPLATE, context, status=400)


@login_required
@require_POST
def act(request: HttpRequest, incident_pk: int) -> HttpResponse:
    incident = get_object_or_404(Incident, pk=incident_pk)
    use_case = get_use_case_for(request.user, incident.use_case_id)
    incident.use_case = use_case
    if not incidents.may_handle(incident, request.user):
        raise PermissionDenied("The owner and the board handle incidents.")
    form = IncidentActionForm(request.POST)
    if form.is_valid():
        try:
            incidents.add_incident_action(
                incident=incident, by=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "Incident updated.")
            return redirect(use_case)
    context = tasks_context(
        use_case, request.user, bound={f"incident-{incident.pk}": form}
    )
    return render(request, TEMPLATE, context, status=400)


@login_required
@require_GET
def attention(request: HttpRequest) -> HttpResponse:
    """Overdue conditions and open incidents (a section of the portfolio)."""
    template = "reviews/review_attention.html"
    if request.htmx and not request.htmx.boosted:
        template += "#attention"
    return render(
        request, template, {"governance": conditions.attention_for(request.user)}
    )
