from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.core.http import UnsafeURL

from . import charts, services
from .access import can_manage_endpoints, get_endpoint_for
from .forms import EndpointForm, MappingForm
from .models import DailyUsage, EndpointMapping, ServingEndpoint

USAGE_DAYS = 30


@login_required
def endpoint_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    endpoints = ServingEndpoint.objects.visible_to(user).for_list(user)
    since = timezone.now().date() - timedelta(days=6)
    usage = (
        DailyUsage.objects.visible_to(user)
        .filter(date__gte=since)
        .values("endpoint_id")
        .annotate(requests=Sum("requests"), cost=Sum("cost"))
        .order_by()
    )
    week = {row["endpoint_id"]: row for row in usage}
    rows = [(endpoint, week.get(endpoint.pk)) for endpoint in endpoints]
    counts = {
        row["health"]: row["n"]
        for row in ServingEndpoint.objects.visible_to(user)
        .filter(enabled=True)
        .values("health")
        .annotate(n=Count("pk"))
        .order_by()
    }
    return render(
        request,
        "endpoints/endpoint_list.html",
        {"rows": rows, "counts": counts, "can_manage": can_manage_endpoints(user)},
    )


@login_required
def endpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    endpoint = get_endpoint_for(user, pk)
    end = timezone.now().date()
    start = end - timedelta(days=USAGE_DAYS - 1)
    daily = (
        DailyUsage.objects.visible_to(user)
        .filter(endpoint=endpoint, date__gte=start)
        .values("date", "use_case__title", "team__name")
        .annotate(requests=Sum("requests"), cost=Sum("cost"))
        .order_by("date")
    )
    rows = [
        {
            **row,
            "label": row["use_case__title"] or row["team__name"] or "Unmapped",
        }
        for row in daily
    ]
    totals = (
        DailyUsage.objects.visible_to(user)
        .filter(endpoint=endpoint, date__gte=start)
        .aggregate(
            requests=Sum("requests"),
            input_tokens=Sum("input_tokens"),
            output_tokens=Sum("output_tokens"),
            cost=Sum("cost"),
        )
    )
    reads_all = user.reads_everything
    context = {
        "endpoint": endpoint,
        "figure": charts.usage_figure(rows, start=start, end=end) if rows else None,
        "totals": totals,
        "days": USAGE_DAYS,
        "can_manage": can_manage_endpoints(user),
        # Poll errors and raw counters are for the readers of every endpoint.
        "events": endpoint.poll_events.all()[:15] if reads_all else [],
        "counters": endpoint.counter_states.order_by("series") if reads_all else [],
        **_mapping_context(request, endpoint),
    }
    return render(request, "endpoints/endpoint_detail.html", context)


def _mapping_context(
    request: HttpRequest, endpoint: ServingEndpoint, form: MappingForm | None = None
) -> dict:
    mappings = endpoint.mappings.select_related("use_case", "team")
    if not request.user.reads_everything:
        from apps.usecases.models import UseCase

        mappings = mappings.filter(
            use_case__in=UseCase.objects.visible_to(request.user).values("pk")
        )
    manage = can_manage_endpoints(request.user)
    return {
        "mappings": mappings,
        "mapping_form": form or (MappingForm(endpoint=endpoint) if manage else None),
    }


@login_required
@permission_required("endpoints.add_servingendpoint", raise_exception=True)
def endpoint_create(request: HttpRequest) -> HttpResponse:
    return _edit(request, endpoint=None)


@login_required
def endpoint_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, endpoint=get_endpoint_for(request.user, pk, write=True))


def _edit(request: HttpRequest, *, endpoint: ServingEndpoint | None) -> HttpResponse:
    if request.method == "POST":
        form = EndpointForm(request.POST, instance=endpoint)
        if form.is_valid():
            try:
                saved = services.save_endpoint(
                    endpoint=endpoint,
                    fields=form.endpoint_fields(),
                    api_key=form.cleaned_data["api_key"] or None,
                    clear_api_key=form.cleaned_data["clear_api_key"],
                    by=request.user,
                )
            except UnsafeURL as exc:  # the name now resolves elsewhere
                form.add_error("base_url", exc.message)
            else:
                messages.success(request, f"Saved {saved.name}.")
                return redirect(saved)
    else:
        form = EndpointForm(instance=endpoint)
    return render(
        request, "endpoints/endpoint_form.html", {"form": form, "endpoint": endpoint}
    )


@login_required
@require_POST
def endpoint_test(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Test connection" (htmx): models found and last counters, or what failed."""
    endpoint = get_endpoint_for(request.user, pk, write=True)
    report = services.probe_endpoint(endpoint=endpoint)
    context = {
        "endpoint": endpoint,
        "report": report,
        "counters": endpoint.counter_states.order_by("series"),
    }
    if request.htmx:
        return render(request, "endpoints/endpoint_detail.html#probe", context)
    if report.ok:
        messages.success(request, f"Connected: {report.detail}")
    else:
        messages.error(request, f"Connection failed: {report.detail}")
    return redirect(endpoint)


@login_required
@require_POST
def mapping_add(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_endpoint_for(request.user, pk, write=True)
    form = MappingForm(request.POST, endpoint=endpoint)
    if form.is_valid():
        services.save_mapping(
            endpoint=endpoint, fields=form.mapping_fields(), by=request.user
        )
        form = None
    return _mappings_response(request, endpoint, form)


@login_required
@require_POST
def mapping_delete(request: HttpRequest, pk: int, mapping_pk: int) -> HttpResponse:
    endpoint = get_endpoint_for(request.user, pk, write=True)
    mapping = get_object_or_404(EndpointMapping, pk=mapping_pk, endpoint=endpoint)
    services.delete_mapping(mapping=mapping, by=request.user)
    return _mappings_response(request, endpoint, None)


def _mappings_response(
    request: HttpRequest, endpoint: ServingEndpoint, form: MappingForm | None
) -> HttpResponse:
    if not request.htmx:
        if form is not None and form.errors:
            messages.error(request, "The mapping was not saved: " + _errors(form))
        return redirect(endpoint)
    context = {
        "endpoint": endpoint,
        "can_manage": True,
        **_mapping_context(request, endpoint, form),
    }
    return render(request, "endpoints/endpoint_detail.html#mappings", context)


def _errors(form: MappingForm) -> str:
    return "; ".join(str(e) for errors in form.errors.values() for e in errors)


@login_required
def use_case_usage_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The use-case page's "Live usage" panel: its endpoints and last 30 days."""
    from apps.usecases.access import get_use_case_for

    use_case = get_use_case_for(request.user, pk)
    end = timezone.now().date()
    start = end - timedelta(days=USAGE_DAYS - 1)
    per_endpoint = (
        DailyUsage.objects.filter(use_case=use_case, date__gte=start)
        .values("endpoint_id", "endpoint__name", "endpoint__location")
        .annotate(
            total_requests=Sum("requests"),
            total_cost=Sum("cost"),
            week=Sum("requests", filter=Q(date__gte=end - timedelta(days=7))),
        )
        .order_by("endpoint__name")
    )
    daily = (
        DailyUsage.objects.filter(use_case=use_case, date__gte=start)
        .values("date", "endpoint__name")
        .annotate(requests=Sum("requests"), cost=Sum("cost"))
        .order_by("date")
    )
    rows = [{**row, "label": row["endpoint__name"]} for row in daily]
    context = {
        "use_case": use_case,
        "per_endpoint": per_endpoint,
        "figure": charts.usage_figure(rows, start=start, end=end) if rows else None,
        "days": USAGE_DAYS,
    }
    template = "endpoints/usecase_usage.html"
    if request.htmx:
        template += "#panel"
    return render(request, template, context)
