"""The sign-in page: Django's login view, answering 429 while sign-ins are throttled."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpResponse


class SignInView(auth_views.LoginView):
    """The throttle itself is in the backend (apps/accounts/throttle.py); this view
    only turns its refusal into a 429 with the lockout explained on the page."""

    def form_invalid(self, form):  # type: ignore[no-untyped-def]
        response: HttpResponse = super().form_invalid(form)
        if getattr(self.request, "sign_in_lockout", None) is not None:
            response.status_code = 429
        return response
