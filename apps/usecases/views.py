from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from . import lifecycle, services
from .access import get_use_case_for
from .filters import UseCaseFilter
from .forms import TransitionForm, UseCaseForm, workload_formset
from .models import UseCase
from .next_steps import own_next_step
from .panels import annotate_for_list, next_step, panels

SCOPES = {
    "mine": "My use-cases",
    "team": "Team use-cases",
    "all": "All use-cases",
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.has_role("board") and not user.is_superuser:
        return redirect("reviews:queue")
    if user.has_role("requester"):
        return redirect(reverse("usecases:list") + "?scope=mine")
    # Each role lands where its work is (URL names only: no import of those apps).
    if user.has_role("platform") and not user.is_superuser:
        return redirect("endpoints:list")
    if user.has_role("procurement") and not user.is_superuser:
        return redirect("portfolio:overview")
    return redirect("usecases:list")


@login_required
def use_case_list(request: HttpRequest) -> HttpResponse:
    scope = request.GET.get("scope", "all")
    if scope not in SCOPES:
        scope = "all"
    # The page shows the team, never the owner or the description: neither is read.
    queryset = annotate_for_list(
        UseCase.objects.visible_to(request.user)
        .select_related("team")
        .prefetch_related("workloads")
        .defer("description")
    )
    if scope == "mine":
        queryset = queryset.filter(owner=request.user)
    elif scope == "team":
        queryset = queryset.filter(team_id=request.user.team_id)
    filterset = UseCaseFilter(request.GET, queryset=queryset)
    results = filterset.qs if filterset.is_valid() else queryset.none()
    page = Paginator(results, 25).get_page(request.GET.get("page"))
    template = "usecases/usecase_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(
        request,
        template,
        {
            "filter": filterset,
            "page": page,
            "scope": scope,
            "scopes": SCOPES,
            "query": request.GET.copy(),
        },
    )


@login_required
def use_case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    use_case = get_use_case_for(request.user, pk)
    workloads = list(use_case.workloads.all())
    transitions = use_case.transitions.select_related("actor")
    return render(
        request,
        "usecases/usecase_detail.html",
        {
            "use_case": use_case,
            "workloads": workloads,
            "transitions": transitions,
            "actions": lifecycle.available_transitions(use_case, request.user),
            "can_edit": use_case.can_edit(request.user),
            "panels": panels(request.user, use_case),
            "next_step": next_step(request.user, use_case)
            or own_next_step(request.user, use_case),
        },
    )


@login_required
@permission_required("usecases.add_usecase", raise_exception=True)
def use_case_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, use_case=None)


@login_required
def use_case_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, use_case=get_use_case_for(request.user, pk, write=True))


def _edit(request: HttpRequest, *, use_case: UseCase | None) -> HttpResponse:
    if request.method == "POST":
        form = UseCaseForm(request.POST, instance=use_case, user=request.user)
        formset = workload_formset(request.POST, use_case=use_case)
        if "add_workload" in request.POST:
            # Without JavaScript: show the form again with one more workload row.
            formset = workload_formset(initial=_posted_workloads(request.POST), extra=1)
        elif form.is_valid() & formset.is_valid():
            fields = {name: form.cleaned_data[name] for name in UseCaseForm.Meta.fields}
            try:
                saved = services.save_use_case(
                    fields=fields,
                    workloads=formset.workloads(),
                    by=request.user,
                    use_case=use_case,
                )
            except lifecycle.TransitionError as exc:
                messages.error(request, str(exc))
            else:
                if "submit" in request.POST:
                    return _submit(request, saved)
                messages.success(request, "Saved as a draft.")
                return redirect(saved)
    else:
        form = UseCaseForm(instance=use_case, user=request.user)
        formset = workload_formset(use_case=use_case)
    return render(
        request,
        "usecases/usecase_form.html",
        {"form": form, "formset": formset, "use_case": use_case},
    )


def _posted_workloads(data) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    try:
        count = min(int(data.get("workloads-TOTAL_FORMS", 0)), 10)
    except ValueError:
        count = 0
    return [
        {
            "task_type": data.get(f"workloads-{i}-task_type", ""),
            "share": data.get(f"workloads-{i}-share", ""),
            "notes": data.get(f"workloads-{i}-notes", ""),
        }
        for i in range(count)
    ]


@login_required
def workload_row(request: HttpRequest) -> HttpResponse:
    """One empty workload row for the intake form (htmx), numbered after the others."""
    try:
        index = max(0, min(int(request.GET.get("workloads-TOTAL_FORMS", 0)), 9))
    except ValueError:
        index = 0
    formset = workload_formset(initial=[], extra=index + 1)
    return render(
        request,
        "usecases/usecase_form.html#workload_row",
        {"wf": formset.forms[index], "total": index + 1, "oob_total": True},
    )


def _submit(request: HttpRequest, use_case: UseCase) -> HttpResponse:
    try:
        services.submit_use_case(use_case=use_case, by=request.user)
    except lifecycle.TransitionError as exc:
        messages.error(request, f"Saved, but not submitted: {exc}")
    else:
        messages.success(request, "Submitted to the architecture board.")
    return redirect(use_case)


@login_required
@require_POST
def use_case_transition(request: HttpRequest, pk: int) -> HttpResponse:
    use_case = get_use_case_for(request.user, pk)
    form = TransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid next status.")
        return redirect(use_case)
    try:
        services.transition_use_case(
            use_case=use_case,
            to_status=form.cleaned_data["to_status"],
            by=request.user,
            comment=form.cleaned_data["comment"],
        )
    except lifecycle.TransitionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Moved to {use_case.get_status_display().lower()}.")
    return redirect(use_case)


@login_required
@require_POST
def use_case_validate(request: HttpRequest) -> HttpResponse:
    """Inline validation: errors of the fields filled in so far, swapped in by id."""
    form = UseCaseForm(request.POST, user=request.user)
    formset = workload_formset(request.POST)
    form.is_valid()
    formset.is_valid()
    filled = {name for name, value in request.POST.items() if value.strip()}
    field_errors = {
        name: (form.errors.get(name) if name in filled else None)
        for name in UseCaseForm.Meta.fields
    }
    return render(
        request,
        "usecases/usecase_form.html#validation",
        {
            "field_errors": field_errors,
            "formset": formset,
            "workload_errors": formset.non_form_errors(),
        },
    )


@login_required
def use_case_counts(request: HttpRequest) -> HttpResponse:
    """Status counts of what the user can see (for the nav badge and list header)."""
    counts = (
        UseCase.objects.visible_to(request.user)
        .values("status")
        .annotate(n=Count("pk"), volume=Sum("requests_per_day"))
        .order_by()
    )
    return render(request, "usecases/usecase_list.html#counts", {"counts": counts})
