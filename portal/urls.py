from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path

from apps.accounts.signin import (
    OidcCallbackView,
    OidcSignInView,
    SignInView,
    SignOutView,
)
from apps.usecases.views import home


def healthz(request):  # type: ignore[no-untyped-def]
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("", home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("accounts/login/", SignInView.as_view(), name="login"),
    path("accounts/logout/", SignOutView.as_view(), name="logout"),
    # Single sign-on (OpenID Connect); 404 unless OIDC_ISSUER is set.
    path(
        "oidc/authenticate/", OidcSignInView.as_view(), name="oidc_authentication_init"
    ),
    path(
        "oidc/callback/",
        OidcCallbackView.as_view(),
        name="oidc_authentication_callback",
    ),
    path("use-cases/", include("apps.usecases.urls")),
    path("use-cases/<int:pk>/gateway/", include("apps.gateway.page_urls")),
    path("framework/", include("apps.framework.urls")),
    path("catalogue/", include("apps.catalogue.urls")),
    path("risk/", include("apps.risk.urls")),
    path("reviews/", include("apps.reviews.urls")),
    path("endpoints/", include("apps.endpoints.urls")),
    path("notifications/", include("apps.notify.urls")),
    path("portfolio/", include("apps.portfolio.urls")),
    path("playground/", include("apps.playground.urls")),
    path("lifecycle/", include("apps.lifecycle.urls")),
    path("api/", include("apps.api.urls")),
    path("gateway/", include("apps.gateway.urls")),
    path("tokens/", include("apps.accounts.urls")),
    path("admin/", admin.site.urls),
]

# JSON under /api/, the usual pages elsewhere (apps/api/exceptions.py).
handler404 = "apps.api.exceptions.page_not_found"
handler500 = "apps.api.exceptions.server_error"
