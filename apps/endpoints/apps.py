from django.apps import AppConfig


class EndpointsConfig(AppConfig):
    name = "apps.endpoints"
    label = "endpoints"
    verbose_name = "Serving endpoints and usage"

    def ready(self) -> None:
        from apps.usecases.panels import Panel, register_panel

        register_panel(Panel("Live usage", "endpoints:usecase_usage", order=60))
