"""Framework pages: the assessment panel, the live intake preview, the policy."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.usecases.access import get_use_case_for
from apps.usecases.models import UseCase

from . import services
from .catalogue import CatalogueMissing
from .diff import diff_assessments
from .engine import InputError, Inputs
from .forms import PolicyForm
from .inputs import inputs_data_for_use_case, inputs_data_from_form, split_errors
from .models import Assessment, Policy, Trigger

HISTORY_SHOWN = 50
REASSESS_ROLES = ("board", "platform")


def _history(use_case: UseCase) -> list[Assessment]:
    # The JSON payloads stay in the database: the list shows headlines only.
    return list(
        use_case.assessments.for_list().defer("result", "cost_curves", "inputs")[
            :HISTORY_SHOWN
        ]
    )


def _load(use_case: UseCase, pk: str | int | None) -> Assessment | None:
    queryset = use_case.assessments.select_related("policy_version", "created_by")
    if pk in (None, ""):
        return queryset.newest_first().first()
    try:
        return queryset.get(pk=pk)
    except (Assessment.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such assessment.") from exc


@login_required
def assessment_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The recommendation on the use-case page: latest (or ?assessment=) in full,
    the history and what changed between two of them."""
    use_case = get_use_case_for(request.user, pk)
    assessment = _load(use_case, request.GET.get("assessment"))
    history = _history(use_case)
    current = _current_inputs(use_case)
    preview = None
    if assessment is None and current is not None:
        # Never assessed (a draft): show what it would say, clearly unsaved.
        preview = services.evaluate_inputs(inputs=current)
    is_latest = assessment is not None and assessment.pk == history[0].pk
    stale = is_latest and current is not None and current.as_dict() != assessment.inputs
    diff = None
    position = next(
        (i for i, a in enumerate(history) if assessment and a.pk == assessment.pk), None
    )
    if position is not None and position + 1 < len(history):
        older = _load(use_case, history[position + 1].pk)
        diff = diff_assessments(older, assessment)
    template = "framework/assessment_panel.html"
    if request.htmx:
        template += "#panel"
    return render(
        request,
        template,
        {
            "use_case": use_case,
            "assessment": assessment,
            "history": history,
            "preview": preview,
            "stale": stale,
            "diff": diff,
            "can_reassess": _may_reassess(request, use_case),
        },
    )


def _current_inputs(use_case: UseCase) -> Inputs | None:
    try:
        return Inputs.from_dict(inputs_data_for_use_case(use_case))
    except InputError:
        return None


def _may_reassess(request: HttpRequest, use_case: UseCase) -> bool:
    return (
        request.user.has_role(*REASSESS_ROLES)
        and use_case.status not in services.NOT_REASSESSED
    )


@login_required
def assessment_diff(request: HttpRequest, pk: int) -> HttpResponse:
    """What changed between two assessments of one use-case (?a=older&b=newer)."""
    use_case = get_use_case_for(request.user, pk)
    first = _load(use_case, request.GET.get("a") or None)
    second = _load(use_case, request.GET.get("b") or None)
    if first is None or second is None:
        raise Http404("Nothing to compare.")
    older, newer = sorted((first, second), key=lambda a: (a.created_at, a.pk))
    template = (
        "framework/assessment_panel.html#diff"
        if request.htmx
        else ("framework/assessment_diff.html")
    )
    return render(
        request,
        template,
        {
            "use_case": use_case,
            "diff": diff_assessments(older, newer),
            "history": _history(use_case),
        },
    )


@login_required
@require_POST
def reassess(request: HttpRequest, pk: int) -> HttpResponse:
    """Board or platform re-assess one use-case now (stored only if it changed)."""
    use_case = get_use_case_for(request.user, pk)
    if not _may_reassess(request, use_case):
        raise PermissionDenied("Only the board or platform re-assess use-cases.")
    try:
        created = services.assess_use_case(
            use_case=use_case, trigger=Trigger.MANUAL, by=request.user
        )
    except CatalogueMissing:
        messages.error(request, "The model catalogue is empty; load it first.")
        return redirect(use_case)
    if created is None:
        messages.info(request, "Re-assessed: the answer has not changed.")
    else:
        messages.success(request, f"Re-assessed: {created.get_outcome_display()}.")
    return redirect(use_case)


@login_required
@require_POST
def intake_preview(request: HttpRequest) -> HttpResponse:
    """The live recommendation beside the intake form: nothing is saved."""
    data = inputs_data_from_form(request.POST)
    context: dict = {"missing": [], "errors": {}, "evaluation": None}
    try:
        inputs = Inputs.from_dict(data)
    except InputError as exc:
        context["missing"], context["errors"] = split_errors(exc)
    else:
        context["evaluation"] = services.evaluate_inputs(inputs=inputs)
    return render(request, "framework/intake_preview.html", context)


@login_required
@permission_required("framework.view_policy", raise_exception=True)
def policy(request: HttpRequest) -> HttpResponse:
    """The current policy and its history; platform saves a new version."""
    current = Policy.objects.current()
    can_edit = request.user.has_perm("framework.add_policy")
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only platform changes the policy.")
        form = PolicyForm(request.POST, initial_policy=current.data)
        if form.is_valid():
            new, report = services.change_policy(
                data=form.settings(), by=request.user, note=form.cleaned_data["note"]
            )
            messages.success(
                request,
                f"Saved policy {new.label}. {report.checked} use-case(s) checked, "
                f"{len(report.created)} re-assessed, {len(report.changed_outcome)} "
                "changed recommendation.",
            )
            return redirect("framework:policy")
    else:
        form = PolicyForm(initial_policy=current.data)
    versions = list(Policy.objects.select_related("created_by")[:20])
    changes = [
        (version, version.changes_from(older))
        for version, older in zip(versions, [*versions[1:], None], strict=False)
    ]
    return render(
        request,
        "framework/policy_form.html",
        {"form": form, "current": current, "changes": changes, "can_edit": can_edit},
    )
