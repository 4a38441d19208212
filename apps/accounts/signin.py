"""Sign-in and sign-out: Django's login view (429 while sign-ins are throttled),
single sign-on with OpenID Connect, and sign-out that ends the provider's session."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.generic import View
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)

from . import oidc
from .signals import account_event
from .throttle import client_address


class SignInView(auth_views.LoginView):
    """The throttle itself is in the backend (apps/accounts/throttle.py); this view
    only turns its refusal into a 429 with the lockout explained on the page."""

    def form_invalid(self, form):  # type: ignore[no-untyped-def]
        response: HttpResponse = super().form_invalid(form)
        if getattr(self.request, "sign_in_lockout", None) is not None:
            response.status_code = 429
        return response

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["sso_enabled"] = oidc.enabled()
        context["sso_provider_name"] = settings.OIDC_PROVIDER_NAME
        context["password_sign_in"] = settings.LOCAL_PASSWORD_SIGN_IN
        # Password sign-in switched off: the form stays for break-glass superusers.
        context["break_glass"] = not settings.LOCAL_PASSWORD_SIGN_IN and (
            self.request.GET.get("local") == "1" or self.request.method == "POST"
        )
        return context


# Single sign-on (apps/accounts/oidc.py) ----------------------------------------


class OidcSignInView(OIDCAuthenticationRequestView):
    """Sends the browser to the provider with state, nonce and a PKCE challenge."""

    def __init__(self, **kwargs: Any) -> None:
        # The parent reads the endpoints at construction; discovery happens in get().
        View.__init__(self, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not oidc.enabled():
            raise Http404("Single sign-on is not configured.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = oidc.metadata()["authorization_endpoint"]
        except oidc.SignInRefused as refusal:
            return refuse(request, refusal)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        return super().get(request)  # type: ignore[no-any-return]


class OidcCallbackView(OIDCAuthenticationCallbackView):
    """The provider's answer: one state used once, then the backend's checks.

    Any refusal answers 403 with the reason on a page and an audit event; nothing
    is created or changed (but see oidc.py on users no longer in a mapped group).
    """

    def get(self, request: HttpRequest) -> HttpResponse:
        if not oidc.enabled():
            raise Http404("Single sign-on is not configured.")
        state = request.GET.get("state", "")
        states = request.session.get("oidc_states") or {}
        entry = states.pop(state, None) if state else None
        if entry is not None:
            # Used once, whatever happens next: a replayed answer finds no state.
            request.session["oidc_states"] = states
            request.session.save()
        if request.GET.get("error"):
            detail = (
                f"{request.GET['error']}: {request.GET.get('error_description', '')}"
            )
            return refuse(request, oidc.SignInRefused("idp_error", detail[:300]))
        if entry is None or not request.GET.get("code"):
            return refuse(
                request,
                oidc.SignInRefused(
                    "unknown_state", "no sign-in in this session has this state"
                ),
            )
        try:
            user = auth.authenticate(
                request,
                nonce=entry.get("nonce"),
                code_verifier=entry.get("code_verifier"),
            )
        except oidc.SignInRefused as refusal:
            return refuse(request, refusal)
        if user is None or not user.is_active:
            return refuse(
                request, oidc.SignInRefused("account_disabled", "no active user")
            )
        self.user = user
        return self.login_success()  # type: ignore[no-any-return]


def refuse(request: HttpRequest, refusal: oidc.SignInRefused) -> HttpResponse:
    account_event.send(
        sender=OidcCallbackView,
        kind="accounts.sso_refused",
        summary=f"Single sign-on refused: {refusal.reason}.",
        actor=refusal.user,
        data={
            "reason": refusal.reason,
            "detail": refusal.detail[:500],
            "address": client_address(request),
        },
    )
    return render(
        request,
        "registration/sso_refused.html",
        {"refusal": refusal, "provider_name": settings.OIDC_PROVIDER_NAME},
        status=403,
    )


class SignOutView(auth_views.LogoutView):
    """Django's sign-out; after single sign-on also the provider's session, where
    the provider offers an ``end_session_endpoint`` (RP-initiated logout)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        id_token = request.session.get("oidc_id_token")
        end_session = None
        if id_token and oidc.enabled():
            try:
                end_session = oidc.metadata().get("end_session_endpoint")
            except oidc.SignInRefused:
                end_session = None  # sign out here at least
        response: HttpResponse = super().post(request, *args, **kwargs)
        if not end_session:
            return response
        query = urlencode(
            {
                "id_token_hint": id_token,
                "client_id": settings.OIDC_RP_CLIENT_ID,
                "post_logout_redirect_uri": request.build_absolute_uri(
                    reverse("login")
                ),
            }
        )
        return HttpResponseRedirect(f"{end_session}?{query}")
