"""API token pages: platform issues and revokes tokens; auditors may look."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import services
from .forms import ApiTokenForm
from .models import ApiToken


@login_required
@permission_required("accounts.view_apitoken", raise_exception=True)
def token_list(request: HttpRequest) -> HttpResponse:
    tokens = ApiToken.objects.select_related(
        "user", "issued_by", "revoked_by"
    ).order_by("-created_at")
    can_manage = request.user.has_perm("accounts.add_apitoken")
    return render(
        request,
        "accounts/apitoken_list.html",
        {
            "tokens": tokens,
            "form": ApiTokenForm(issuer=request.user) if can_manage else None,
            "can_manage": can_manage,
        },
    )


@never_cache  # the response to a successful POST carries the secret
@login_required
@permission_required("accounts.add_apitoken", raise_exception=True)
def token_create(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None, issuer=request.user)
    if request.method == "POST" and form.is_valid():
        token, key = services.issue_api_token(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            scope=form.cleaned_data["scope"],
            days=form.cleaned_data["days"],
            by=request.user,
        )
        # Shown in this response only: never stored, never redirected through a
        # session or a message cookie.
        return render(
            request, "accounts/apitoken_created.html", {"token": token, "key": key}
        )
    return render(request, "accounts/apitoken_form.html", {"form": form})


@require_POST
@login_required
@permission_required("accounts.change_apitoken", raise_exception=True)
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.select_related("user"), pk=pk)
    if services.revoke_api_token(token=token, by=request.user):
        messages.success(request, f"Revoked “{token.name}” ({token.key_prefix}…).")
    else:
        messages.info(request, f"“{token.name}” was already revoked.")
    return redirect("accounts:tokens")
