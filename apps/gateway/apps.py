from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "apps.gateway"
    verbose_name = "Governance gateway"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from apps.reviews.routing import register_route_support

        from .routes import GatewayRouteSupport

        register_route_support(GatewayRouteSupport())

        from apps.usecases.panels import Panel, register_panel

        from .access import may_view_keys

        # The keys panel of the use-case page (pages.py), loaded with htmx.
        register_panel(
            Panel("Gateway keys", "gateway_keys:panel", order=70, visible=may_view_keys)
        )
        # Traffic by route, refusals and budgets (pages.traffic_panel).
        register_panel(
            Panel(
                "Gateway traffic",
                "gateway_keys:traffic",
                order=75,
                visible=may_view_keys,
            )
        )

        from . import signals  # noqa: F401  (cache invalidation)
