from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    name = "apps.portfolio"
    label = "portfolio"

    def ready(self) -> None:
        from apps.usecases.panels import Panel, register_panel

        # Where sharing a deployment changes a use-case's answer, its page says so.
        register_panel(Panel("Portfolio plan", "portfolio:plan_note", order=15))
