"""The plan page, `/portfolio/plan/`: the portfolio as an allocation, with
"what changes if" controls (one form, re-planned through htmx) and saved plans."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.framework.engine import MLOPS_READINESS, InputError
from apps.framework.engine.planner import MAX_PRICE_PERCENT, MAX_VOLUME_FACTOR
from apps.usecases.access import get_use_case_for

from .charts import BASE_LAYOUT
from .models import SavedPlan
from .planner import (
    PlanRun,
    can_plan,
    can_save_plans,
    run_plan,
    save_plan,
    scenario_choices,
    use_case_pooling_note,
)

OPTION_LABELS = {
    "pooled": "Shared self-hosted pool",
    "open_source_self_hosted": "Self-hosted on its own",
    "open_source_managed": "Managed open-source",
    "proprietary_api": "Proprietary API",
}


class ScenarioForm(forms.Form):
    """One change of each kind; empty fields change nothing."""

    team = forms.ChoiceField(required=False, label="Volume for")
    factor = forms.FloatField(
        required=False,
        min_value=0.01,
        max_value=MAX_VOLUME_FACTOR,
        label="Volume times",
        widget=forms.NumberInput(attrs={"step": "any", "placeholder": "1"}),
    )
    vendor = forms.ChoiceField(required=False, label="Prices of")
    percent = forms.FloatField(
        required=False,
        min_value=-100,
        max_value=MAX_PRICE_PERCENT,
        label="change by %",
        widget=forms.NumberInput(attrs={"step": "any", "placeholder": "+30"}),
    )
    retired = forms.ChoiceField(required=False, label="Model withdrawn")
    gpu = forms.FloatField(
        required=False,
        min_value=0.01,
        max_value=1_000,
        label="GPU $/hour",
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    readiness = forms.ChoiceField(
        required=False,
        label="Platform ML-ops",
        choices=[(r, r.capitalize()) for r in reversed(MLOPS_READINESS)],
    )
    live = forms.BooleanField(required=False, label="Live usage instead of declared")

    def set_choices(
        self,
        *,
        teams: tuple[str, ...],
        vendors: tuple[str, ...],
        models: tuple[tuple[str, str], ...],
    ) -> None:
        self.fields["team"].choices = [("", "the whole portfolio")] + [
            (t, t) for t in teams
        ]
        self.fields["vendor"].choices = [("", "no vendor")] + [(v, v) for v in vendors]
        self.fields["retired"].choices = [("", "none"), *models]

    def scenario(self) -> dict[str, Any]:
        data = self.cleaned_data
        scenario: dict[str, Any] = {
            "mlops_readiness": data.get("readiness") or "established"
        }
        if data.get("factor") not in (None, 1):
            scenario["volume_changes"] = [
                {"team": data.get("team") or None, "factor": data["factor"]}
            ]
        if data.get("vendor") and data.get("percent") not in (None, 0):
            scenario["price_changes"] = [
                {"vendor": data["vendor"], "percent": data["percent"]}
            ]
        if data.get("retired"):
            scenario["retired_models"] = [data["retired"]]
        if data.get("gpu") is not None:
            scenario["gpu_usd_per_hour"] = data["gpu"]
        return scenario


FORM_FIELD_FOR = {
    "volume_changes": "factor",
    "price_changes": "percent",
    "retired_models": "retired",
    "gpu_usd_per_hour": "gpu",
    "mlops_readiness": "readiness",
}


def _require_planner(request: HttpRequest) -> None:
    if not can_plan(request.user):
        raise PermissionDenied(
            "The plan covers every team: board, platform, procurement and auditors."
        )


def _plan_from(request: HttpRequest, data: Any) -> tuple[ScenarioForm, PlanRun | None]:
    """The form bound to ``data`` and its plan, or the form with field errors."""
    form = ScenarioForm(data)
    form.set_choices(**scenario_choices())
    if not form.is_valid():
        return form, None
    try:
        run = run_plan(
            scenario=form.scenario(), live_usage=form.cleaned_data.get("live", False)
        )
    except InputError as exc:
        for name, msgs in exc.errors.items():
            field = FORM_FIELD_FOR.get(name.split("[")[0])
            for msg in msgs:
                form.add_error(field, msg)
        return form, None
    return form, run


def cost_figure(run: PlanRun) -> dict[str, Any] | None:
    """Planned and stand-alone cost a month as the portfolio's volume scales."""
    chart = run.chart
    if not chart or not chart.get("volume_factor"):
        return None
    xs = [f"x {f:g}" for f in chart["volume_factor"]]
    traces = [
        go.Scatter(
            x=xs,
            y=chart["standalone_monthly_cost"],
            name="Each use-case on its own",
            mode="lines+markers",
            line={"color": "#3d5a98"},
        ),
        go.Scatter(
            x=xs,
            y=chart["planned_monthly_cost"],
            name="The plan (with shared pools)",
            mode="lines+markers",
            line={"color": "#1f7a4d"},
            text=[f"{g} GPUs" for g in chart["gpus"]],
        ),
    ]
    figure = go.Figure(
        data=traces,
        layout={
            **BASE_LAYOUT,
            "xaxis": {"title": "Portfolio volume"},
            "yaxis": {"title": "USD a month", "rangemode": "tozero"},
        },
    )
    return figure.to_plotly_json()


def _rows(run: PlanRun) -> list[dict[str, Any]]:
    rows = []
    for u in run.plan.use_cases:
        planned = "; ".join(
            f"{w.task_type}: {w.model_name or '—'} ("
            + OPTION_LABELS.get(w.option, w.option)
            + ")"
            for w in u.workloads
        )
        alone = "; ".join(
            f"{w.task_type}: {w.standalone_model_name or '—'} ("
            + OPTION_LABELS.get(w.standalone_option, w.standalone_option)
            + ")"
            for w in u.workloads
        )
        rows.append(
            {
                "plan": u,
                "planned": planned,
                "alone": alone,
                "requests": sum(w.requests_per_day for w in u.workloads),
                "url": f"/use-cases/{u.id}/",
            }
        )
    return rows


@login_required
@require_GET
def plan_page(request: HttpRequest) -> HttpResponse:
    _require_planner(request)
    form, run = _plan_from(request, request.GET or None)
    if run is None and not form.is_bound:
        form, run = _plan_from(request, {"readiness": "established"})
    template = "portfolio/portfolio_plan.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    context: dict[str, Any] = {
        "form": form,
        "run": run,
        "can_save": can_save_plans(request.user),
        "saved": SavedPlan.objects.select_related("created_by")[:10],
        "query": request.GET.urlencode(),
    }
    if run is not None:
        totals = run.plan.cost_by_option()
        context.update(
            plan=run.plan,
            rows=_rows(run),
            figure=cost_figure(run),
            option_totals=[
                (OPTION_LABELS[k], v) for k, v in totals.items() if k in OPTION_LABELS
            ],
            exposure=run.plan.exposure(),
            changes=run.changes,
        )
    return render(request, template, context)


@login_required
@require_POST
def plan_save(request: HttpRequest) -> HttpResponse:
    """Keep the plan on screen (its scenario) as board evidence."""
    _require_planner(request)
    if not can_save_plans(request.user):
        raise PermissionDenied("Only the board saves plans.")
    _form, run = _plan_from(request, request.POST)
    name = (request.POST.get("name") or "").strip()[:200]
    if run is None or not name:
        messages.error(request, "Give the plan a name, and a scenario without errors.")
        return redirect("portfolio:plan")
    saved = save_plan(run=run, name=name, note="", by=request.user)
    messages.success(request, f"Saved “{saved.name}” as board evidence.")
    query = request.POST.copy()
    for key in ("csrfmiddlewaretoken", "name"):
        query.pop(key, None)
    return redirect(f"{reverse('portfolio:plan')}?{query.urlencode()}")


@login_required
@require_GET
def plan_note(request: HttpRequest, pk: int) -> HttpResponse:
    """The use-case page's panel: what pooling changes about its answer, if
    anything (whoever may read the use-case; only totals of others show)."""
    use_case = get_use_case_for(request.user, pk)
    return render(
        request,
        "portfolio/plan_note.html",
        {
            "use_case": use_case,
            "note": use_case_pooling_note(use_case),
            "can_plan": can_plan(request.user),
        },
    )
