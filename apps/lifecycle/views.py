"""Lifecycle pages: the portfolio's watch list, a use-case panel, comparisons."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from apps.endpoints.models import ServingEndpoint
from apps.reviews.services import may_decide
from apps.usecases.access import get_use_case_for

from . import comparisons
from .access import get_comparison_for
from .models import Comparison, ConformanceFlag, DeprecationFlag


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """Ending models by date, traffic off the decisions, upgrade proposals."""
    user = request.user
    return render(
        request,
        "lifecycle/lifecycle_overview.html",
        {
            "deprecations": DeprecationFlag.objects.visible_to(user).open().for_list(),
            "conformance": ConformanceFlag.objects.visible_to(user).open().for_list(),
            "comparisons": Comparison.objects.visible_to(user)
            .for_list()
            .exclude(status=Comparison.Status.DISMISSED)[:100],
        },
    )


@login_required
def use_case_panel(request: HttpRequest, pk: int) -> HttpResponse:
    use_case = get_use_case_for(request.user, pk)
    template = "lifecycle/usecase_panel.html"
    if request.htmx:
        template += "#panel"
    return render(
        request,
        template,
        {
            "use_case": use_case,
            "deprecations": DeprecationFlag.objects.open()
            .for_list()
            .filter(use_case=use_case),
            "conformance": ConformanceFlag.objects.for_list().filter(use_case=use_case)[
                :20
            ],
            "comparisons": Comparison.objects.for_list().filter(use_case=use_case)[:20],
        },
    )


@login_required
def comparison_detail(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = get_comparison_for(request.user, pk)
    template = "lifecycle/comparison_detail.html"
    if request.htmx:
        template += "#result"
    endpoints = []
    if comparison.status in (Comparison.Status.PROPOSED, Comparison.Status.FAILED):
        endpoints = list(
            ServingEndpoint.objects.filter(chat_capable=True).order_by("name")
        )
    return render(
        request,
        template,
        {
            "comparison": comparison,
            "progress": comparisons.progress(comparison),
            "incumbent": comparison.result.get("incumbent"),
            "candidate": comparison.result.get("candidate"),
            "gate": comparison.result.get("gate"),
            "may_start": comparisons.may_start(request.user, comparison),
            "may_decide": may_decide(request.user),
            "endpoints": endpoints,
        },
    )


def _errors(request: HttpRequest, exc: ValidationError) -> None:
    for field, problems in exc.message_dict.items():
        for problem in problems:
            messages.error(request, f"{field.replace('_', ' ')}: {problem}")


@login_required
@require_POST
def comparison_start(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = get_comparison_for(request.user, pk)
    candidate = None
    if request.POST.get("candidate"):
        endpoint, _, model = request.POST["candidate"].partition(":")
        candidate = {
            "endpoint": int(endpoint) if endpoint.isdigit() else None,
            "model": model,
        }
    try:
        comparisons.start_comparison(
            comparison=comparison, by=request.user, candidate=candidate
        )
    except PermissionDenied:
        raise
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, "Comparison started: the test sets run on both.")
    return redirect(comparison)


@login_required
@require_POST
def comparison_adopt(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = get_comparison_for(request.user, pk)
    try:
        comparisons.adopt_comparison(
            comparison=comparison,
            by=request.user,
            comment=request.POST.get("comment", ""),
        )
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(
            request, "Adopted: the routes now send this workload to the candidate."
        )
    return redirect(comparison)


@login_required
@require_POST
def comparison_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    comparison = get_comparison_for(request.user, pk)
    try:
        comparisons.dismiss_comparison(comparison=comparison, by=request.user)
    except ValidationError as exc:
        _errors(request, exc)
    return redirect(comparison)
