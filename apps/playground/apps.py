from django.apps import AppConfig


class PlaygroundConfig(AppConfig):
    name = "apps.playground"
    label = "playground"

    def ready(self) -> None:
        from apps.usecases.panels import Panel, register_panel

        register_panel(Panel("Playground evidence", "playground:use_case_panel", 60))

        from . import signals  # noqa: F401  (drops the process caches on change)
