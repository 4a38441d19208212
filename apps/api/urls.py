"""`/api/v1/`: one router; each resource module registers its viewsets here."""

from django.conf import settings
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.permissions import BasePermission
from rest_framework.routers import DefaultRouter

from . import (
    catalogue,
    endpoints,
    framework,
    gateway,
    lifecycle,
    notifications,
    ping,
    planner,
    playground,
    portfolio,
    reviews,
    risk,
    usecases,
)


class ApiDocsAccess(BasePermission):
    """The schema and Swagger UI: signed-in users, or anyone with API_DOCS_PUBLIC."""

    def has_permission(self, request, view):  # type: ignore[no-untyped-def]
        return bool(settings.API_DOCS_PUBLIC or request.user.is_authenticated)


class SwaggerView(SpectacularSwaggerSplitView):
    """Swagger UI adds a <style> of its own: its page alone allows inline styles
    (scripts stay from our static files only)."""

    def finalize_response(self, request, response, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().finalize_response(request, response, *args, **kwargs)
        directives = [
            "style-src 'self' 'unsafe-inline'"
            if d.strip().startswith("style-src")
            else d
            for d in settings.CONTENT_SECURITY_POLICY.split(";")
        ]
        if settings.CONTENT_SECURITY_POLICY:
            response["Content-Security-Policy"] = ";".join(directives)
        return response


router = DefaultRouter()
router.register("use-cases", usecases.UseCaseViewSet, basename="use-case")
router.register(
    "playground/runs", playground.PlaygroundRunViewSet, basename="playground-run"
)
router.register(
    "playground/test-sets", playground.TestSetViewSet, basename="playground-test-set"
)
router.register(
    "playground/test-set-runs",
    playground.TestSetRunViewSet,
    basename="playground-test-set-run",
)
router.register(
    r"use-cases/(?P<use_case_pk>[0-9]+)/assessments",
    framework.UseCaseAssessmentViewSet,
    basename="use-case-assessment",
)
router.register(
    r"use-cases/(?P<use_case_pk>[0-9]+)/gateway-keys",
    gateway.GatewayKeyViewSet,
    basename="use-case-gateway-key",
)
router.register("framework/evaluate", framework.EvaluateViewSet, basename="evaluate")
router.register("catalogue/models", catalogue.CatalogModelViewSet)
router.register("catalogue/gpu-profiles", catalogue.GpuProfileViewSet)
router.register("endpoints", endpoints.EndpointViewSet, basename="endpoint")
router.register("usage", endpoints.UsageViewSet, basename="usage")
# Subscriptions and deliveries before the inbox, whose ids are numbers only.
router.register(
    "notifications/subscriptions",
    notifications.SubscriptionViewSet,
    basename="notification-subscription",
)
router.register(
    "notifications/deliveries",
    notifications.DeliveryViewSet,
    basename="notification-delivery",
)
router.register(
    "notifications", notifications.NotificationViewSet, basename="notification"
)
router.register(
    "portfolio/plan", planner.PortfolioPlanViewSet, basename="portfolio-plan"
)
router.register("portfolio/plans", planner.SavedPlanViewSet, basename="saved-plan")
router.register(
    "lifecycle/deprecations",
    lifecycle.DeprecationFlagViewSet,
    basename="lifecycle-deprecation",
)
router.register(
    "lifecycle/conformance-flags",
    lifecycle.ConformanceFlagViewSet,
    basename="lifecycle-conformance-flag",
)
router.register(
    "lifecycle/comparisons",
    lifecycle.ComparisonViewSet,
    basename="lifecycle-comparison",
)

urlpatterns = [
    path(
        "v1/use-cases/<int:pk>/decision/",
        reviews.DecisionView.as_view(),
        name="use-case-decision",
    ),
    path(
        "v1/use-cases/<int:pk>/timeline/",
        reviews.TimelineView.as_view(),
        name="use-case-timeline",
    ),
    path(
        "v1/use-cases/<int:pk>/risk-assessment/",
        risk.RiskAssessmentView.as_view(),
        name="use-case-risk-assessment",
    ),
    path(
        "v1/use-cases/<int:pk>/stages/",
        risk.StageListView.as_view(),
        name="use-case-stages",
    ),
    path(
        "v1/use-cases/<int:pk>/stages/<int:stage_id>/decide/",
        risk.StageDecideView.as_view(),
        name="use-case-stage-decide",
    ),
    path(
        "v1/use-cases/<int:pk>/conditions/",
        risk.ConditionListView.as_view(),
        name="use-case-conditions",
    ),
    path(
        "v1/use-cases/<int:pk>/conditions/<int:condition_id>/resolve/",
        risk.ConditionResolveView.as_view(),
        name="use-case-condition-resolve",
    ),
    path(
        "v1/use-cases/<int:pk>/incidents/",
        risk.IncidentListView.as_view(),
        name="use-case-incidents",
    ),
    path(
        "v1/use-cases/<int:pk>/incidents/<int:incident_id>/actions/",
        risk.IncidentActionView.as_view(),
        name="use-case-incident-actions",
    ),
    path("v1/risk/register/", risk.RegisterView.as_view(), name="risk-register"),
    path("v1/ping/", ping.ping, name="ping"),
    path(
        "v1/portfolio/summary/",
        portfolio.PortfolioSummaryView.as_view(),
        name="portfolio-summary",
    ),
    path("v1/spend/", portfolio.SpendView.as_view(), name="spend"),
    path(
        "v1/spend/reconciliation/",
        portfolio.ReconciliationView.as_view(),
        name="spend-reconciliation",
    ),
    path("v1/spend/focus/", portfolio.FocusExportView.as_view(), name="spend-focus"),
    path("v1/", include(router.urls)),
    path(
        "schema/",
        SpectacularAPIView.as_view(permission_classes=[ApiDocsAccess]),
        name="schema",
    ),
    # The split view serves its start-up script as a file: no inline script for the CSP.
    path(
        "docs/",
        SwaggerView.as_view(url_name="api:schema", permission_classes=[ApiDocsAccess]),
        name="docs",
    ),
]
app_name = "api"
