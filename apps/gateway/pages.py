"""The gateway panels of the use-case page: keys (list, issue with the secret shown
once, revoke) and traffic by route.

Mounted under ``/use-cases/<pk>/gateway/`` (``page_urls.py``); the use-case page
loads the panel with htmx (registered in ``apps.py``), so the use-case app never
imports this one and its page makes no extra query.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from apps.usecases.models import UseCase

from . import keys, traffic
from .access import (
    get_gateway_key_for,
    get_use_case_keys_for,
    may_manage_keys,
)
from .forms import GatewayKeyForm

TEMPLATE = "gateway/gatewaykey_list.html"
TRAFFIC_TEMPLATE = "gateway/gatewayusage_traffic.html"


@require_GET
@login_required
def key_panel(request: HttpRequest, pk: int) -> HttpResponse:
    use_case = get_use_case_keys_for(request.user, pk)
    template = TEMPLATE + "#panel" if request.htmx else TEMPLATE
    return render(request, template, _context(request, use_case, GatewayKeyForm()))


@never_cache  # the response to a successful POST carries the secret
@require_POST
@login_required
def key_issue(request: HttpRequest, pk: int) -> HttpResponse:
    use_case = get_use_case_keys_for(request.user, pk, manage=True)
    form = GatewayKeyForm(request.POST)
    status = 200
    if form.is_valid():
        try:
            key, secret = keys.issue_gateway_key(
                use_case=use_case, by=request.user, **form.cleaned_data
            )
        except keys.KeyRefused as exc:
            form.add_error(None, str(exc))
            status = 409
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field, errors)
        else:
            # Shown in this response only: never stored, never redirected
            # through a session or a message cookie.
            context = _context(request, use_case, GatewayKeyForm())
            context.update(issued=key, secret=secret)
            return render(request, TEMPLATE, context)
    return render(request, TEMPLATE, _context(request, use_case, form), status=status)


@require_POST
@login_required
def key_revoke(request: HttpRequest, pk: int, key_pk: int) -> HttpResponse:
    key = get_gateway_key_for(request.user, pk, key_pk, manage=True)
    if keys.revoke_gateway_key(key=key, by=request.user):
        messages.success(request, f"Revoked gateway key “{key.name}” ({key.prefix}…).")
    else:
        messages.info(request, f"“{key.name}” was already revoked.")
    return redirect(reverse("usecases:detail", args=[pk]) + "#gateway-keys")


@require_GET
@login_required
def traffic_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """Traffic by route over a period, refusals and budgets; seen by whoever sees
    the keys."""
    use_case = get_use_case_keys_for(request.user, pk)
    period = request.GET.get("period") or traffic.DEFAULT_PERIOD
    context: dict = {"use_case": use_case, "periods": traffic.PERIODS}
    status = 200
    if period in traffic.PERIODS:
        context["report"] = traffic.gateway_traffic(use_case=use_case, period=period)
    else:
        choices = ", ".join(traffic.PERIODS)
        context["period_error"] = (
            f"Unknown period “{period[:40]}”: choose one of {choices}."
        )
        status = 400
    context["period"] = period
    template = TRAFFIC_TEMPLATE + "#panel" if request.htmx else TRAFFIC_TEMPLATE
    return render(request, template, context, status=status)


def _context(request: HttpRequest, use_case: UseCase, form: GatewayKeyForm) -> dict:
    can_manage = may_manage_keys(request.user, use_case)
    return {
        "use_case": use_case,
        "keys": list(use_case.gateway_keys.select_related("created_by", "revoked_by")),
        "can_manage": can_manage,
        "can_issue": can_manage and use_case.status in keys.ISSUABLE_STATUSES,
        "form": form,
        "gateway_base_url": request.build_absolute_uri("/gateway/v1"),
    }
