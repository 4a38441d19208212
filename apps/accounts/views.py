"""API token pages: platform, procurement and auditors issue their own tokens.

Platform revokes any token and, with auditors, sees them all; everyone else with
the page sees and revokes their own.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, user_passes_test
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import services
from .forms import ApiTokenForm
from .models import ApiToken, User


def _uses_tokens(user: User) -> bool:
    if not user.has_perm("accounts.view_apitoken") and not user.has_perm(
        "accounts.add_apitoken"
    ):
        raise PermissionDenied("Your role has no API tokens.")
    return True


@login_required
@user_passes_test(_uses_tokens)
def token_list(request: HttpRequest) -> HttpResponse:
    tokens = list(
        ApiToken.objects.visible_to(request.user)
        .select_related("user", "issued_by", "revoked_by")
        .order_by("-created_at")
    )
    revocable = {
        token.pk
        for token in tokens
        if services.may_revoke_api_token(token=token, user=request.user)
    }
    can_issue = request.user.has_perm("accounts.add_apitoken")
    return render(
        request,
        "accounts/apitoken_list.html",
        {
            "tokens": tokens,
            "form": ApiTokenForm(issuer=request.user) if can_issue else None,
            "can_manage": can_issue,
            "revocable": revocable,
        },
    )


@never_cache  # the response to a successful POST carries the secret
@login_required
@user_passes_test(_uses_tokens)
def token_create(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("accounts.add_apitoken"):
        raise PermissionDenied("Your role does not issue API tokens.")
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
@user_passes_test(_uses_tokens)
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(
        ApiToken.objects.visible_to(request.user).select_related("user"), pk=pk
    )
    if not services.may_revoke_api_token(token=token, user=request.user):
        raise PermissionDenied("Only platform revokes other people's tokens.")
    if services.revoke_api_token(token=token, by=request.user):
        messages.success(request, f"Revoked “{token.name}” ({token.key_prefix}…).")
    else:
        messages.info(request, f"“{token.name}” was already revoked.")
    return redirect("accounts:tokens")
