"""Risk pages: the panel on the use-case page, the questionnaire, stage decisions,
the algorithm register and the evidence export."""

from __future__ import annotations

import csv
import json
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.usecases.access import get_use_case_for
from apps.usecases.models import UseCase

from . import rules, services
from .forms import RiskAssessmentForm, StageDecisionForm
from .models import (
    ApprovalStage,
    RiskAssessment,
    RiskDraft,
    RiskPolicyVersion,
    StageDecision,
    submission_round,
)

if TYPE_CHECKING:
    from apps.accounts.models import User


def _fragment(request: HttpRequest, template: str, name: str) -> str:
    return (
        f"{template}#{name}" if request.htmx and not request.htmx.boosted else template
    )


def risk_context(
    use_case: UseCase,
    user: User,
    *,
    stage_forms: dict[int, StageDecisionForm] | None = None,
) -> dict[str, Any]:
    """What the risk panel shows; also included on the board's review page."""
    latest = (
        RiskAssessment.objects.filter(use_case=use_case)
        .select_related("policy_version")
        .order_by("-number")
        .first()
    )
    stages = list(
        ApprovalStage.objects.filter(
            use_case=use_case, round=submission_round(use_case)
        ).prefetch_related(
            Prefetch(
                "decisions", queryset=StageDecision.objects.select_related("decided_by")
            )
        )
    )
    under_review = use_case.status in services.UNDER_REVIEW
    stage_forms = stage_forms or {}
    rows = []
    for stage in stages:
        may = under_review and stage.may_decide(user)
        rows.append(
            {
                "stage": stage,
                "decisions": list(stage.decisions.all()),
                "form": stage_forms.get(stage.pk, StageDecisionForm()) if may else None,
            }
        )
    blockers = (
        services.approval_blockers(use_case, latest=latest, stages=stages)
        if under_review
        else []
    )
    return {
        "use_case": use_case,
        "risk": latest,
        "has_draft": RiskDraft.objects.filter(use_case=use_case).exists(),
        "may_edit_risk": services.may_edit_risk(use_case, user),
        "stage_rows": rows,
        "blockers": blockers,
        "may_open_stages": under_review
        and any("has not been opened" in b for b in blockers)
        and (user.has_role("board") or user.is_superuser),
    }


@login_required
@require_GET
def panel(request: HttpRequest, pk: int) -> HttpResponse:
    use_case = get_use_case_for(request.user, pk)
    return render(
        request,
        _fragment(request, "risk/risk_panel.html", "panel"),
        risk_context(use_case, request.user),
    )


@login_required
@require_http_methods(["GET", "POST"])
def assessment(request: HttpRequest, pk: int) -> HttpResponse:
    """The questionnaire: “Save draft” keeps unfinished answers; “Save” checks them
    against the data profile and stores a new version."""
    use_case = get_use_case_for(request.user, pk)
    if not services.may_edit_risk(use_case, request.user):
        raise PermissionDenied(
            "Only the owner edits the risk assessment, before the decision."
        )
    status = 200
    if request.method == "POST":
        form = RiskAssessmentForm(request.POST)
        if form.is_valid():
            try:
                if "save_draft" in request.POST:
                    services.save_risk_draft(
                        use_case=use_case, by=request.user, answers=form.answers()
                    )
                    messages.success(request, "Draft saved.")
                    return redirect("risk:assessment", pk=use_case.pk)
                saved = services.record_risk_assessment(
                    use_case=use_case, by=request.user, answers=form.answers()
                )
            except ValidationError as exc:
                form.add_rule_errors(exc.message_dict)
            else:
                messages.success(
                    request,
                    f"Risk assessment v{saved.number} saved: EU AI Act "
                    f"{saved.eu_ai_act_tier}, Charter risk {saved.charter_risk}.",
                )
                return redirect(use_case)
        status = 400
    else:
        draft = RiskDraft.objects.filter(use_case=use_case).first()
        latest = RiskAssessment.objects.latest_for(use_case)
        source = draft.answers if draft else (latest.answers if latest else {})
        form = RiskAssessmentForm(initial=RiskAssessmentForm.initial_from(source))
    return render(
        request,
        "risk/riskassessment_form.html",
        {
            "use_case": use_case,
            "form": form,
            "indigenous": "indigenous" in (use_case.special_categories or []),
        },
        status=status,
    )


@login_required
@require_POST
def decide_stage(request: HttpRequest, stage_pk: int) -> HttpResponse:
    stage = get_object_or_404(ApprovalStage, pk=stage_pk)
    use_case = get_use_case_for(request.user, stage.use_case_id)
    stage.use_case = use_case
    form = StageDecisionForm(request.POST)
    if form.is_valid():
        try:
            services.decide_stage(stage=stage, by=request.user, **form.cleaned_data)
        except services.StageForbidden as exc:
            raise PermissionDenied(str(exc)) from exc
        except ValidationError as exc:
            for name, errors in exc.message_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            messages.success(request, f"{stage.get_kind_display()} stage decided.")
            return redirect(use_case)
    elif not stage.may_decide(request.user):
        raise PermissionDenied("You are not among this stage's approvers.")
    return render(
        request,
        "risk/risk_panel.html",
        risk_context(use_case, request.user, stage_forms={stage.pk: form}),
        status=400,
    )


@login_required
@require_POST
def open_missing_stages(request: HttpRequest, pk: int) -> HttpResponse:
    """The board opens stages the policy now requires (e.g. after a re-estimate of
    the cost put it above the finance threshold)."""
    use_case = get_use_case_for(request.user, pk)
    if not (request.user.has_role("board") or request.user.is_superuser):
        raise PermissionDenied("The board opens approval stages.")
    if use_case.status in services.UNDER_REVIEW:
        services.open_stages(use_case=use_case)
        messages.success(request, "The required approval stages are open.")
    return redirect(use_case)


@login_required
@require_GET
def register(request: HttpRequest) -> HttpResponse:
    """The public algorithm-register entries (Algorithm Charter), as a page, CSV or JSON."""
    rows = services.register_entries(UseCase.objects.visible_to(request.user))
    fmt = request.GET.get("format", "")
    if fmt == "json":
        response = HttpResponse(
            json.dumps({"entries": rows}, indent=2), content_type="application/json"
        )
        response["Content-Disposition"] = (
            'attachment; filename="algorithm-register.json"'
        )
        return response
    if fmt == "csv":
        return _csv(rows, rules.REGISTER_COLUMNS, "algorithm-register.csv")
    return render(
        request,
        "risk/register_list.html",
        {"rows": rows, "columns": rules.REGISTER_COLUMNS},
    )


@login_required
@require_GET
def evidence(request: HttpRequest, pk: int) -> HttpResponse:
    """ISO/IEC 42001 Annex A evidence for one use-case, as CSV for auditors."""
    use_case = get_use_case_for(request.user, pk)
    rows = services.evidence_rows(use_case)
    return _csv(
        rows,
        ("control", "item", "evidence", "satisfied"),
        f"use-case-{use_case.pk}-iso42001-evidence.csv",
    )


def _csv(
    rows: list[dict[str, Any]], columns: tuple[str, ...], name: str
) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.DictWriter(response, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        # Cells starting with a formula character are neutralised for spreadsheets.
        writer.writerow(
            {
                k: f"'{v}" if isinstance(v, str) and v[:1] in "=+-@" else v
                for k, v in row.items()
            }
        )
    return response


class PolicyForm(forms.Form):
    data = forms.JSONField(
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false"}),
        label="Risk policy (JSON)",
        help_text="Charter matrix, register_risks, categories, finance threshold, "
        "stage_rules (roles, users, mode any|all) and review intervals per EU tier.",
    )
    note = forms.CharField(max_length=300, required=False, label="What changed and why")


@login_required
@require_http_methods(["GET", "POST"])
def policy(request: HttpRequest) -> HttpResponse:
    """The risk policy in force and its versions; platform saves a new version."""
    if not (request.user.reads_everything):
        raise PermissionDenied(
            "The risk policy is for platform, the board and auditors."
        )
    current = RiskPolicyVersion.objects.current()
    may_edit = services.may_edit_policy(request.user)
    status = 200
    form = PolicyForm(initial={"data": current.data})
    if request.method == "POST":
        if not may_edit:
            raise PermissionDenied("Platform maintains the risk policy.")
        form = PolicyForm(request.POST)
        if form.is_valid():
            try:
                saved = services.save_risk_policy(
                    data=form.cleaned_data["data"],
                    note=form.cleaned_data["note"],
                    by=request.user,
                )
            except ValidationError as exc:
                form.add_error("data", exc.message_dict["data"])
            else:
                messages.success(request, f"Risk policy v{saved.number} saved.")
                return redirect("risk:policy")
        status = 400
    return render(
        request,
        "risk/riskpolicy_form.html",
        {
            "current": current,
            "versions": RiskPolicyVersion.objects.select_related("created_by")[:20],
            "form": form if may_edit else None,
        },
        status=status,
    )
