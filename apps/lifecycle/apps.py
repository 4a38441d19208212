from django.apps import AppConfig


class LifecycleConfig(AppConfig):
    """Model lifecycle: deprecation watch, decision conformance, upgrade gate."""

    name = "apps.lifecycle"
    label = "lifecycle"

    def ready(self) -> None:
        from apps.catalogue.signals import models_added
        from apps.usecases.panels import Panel, register_panel

        from .candidates import on_models_added

        models_added.connect(on_models_added, dispatch_uid="lifecycle.candidates")
        register_panel(Panel("Model lifecycle", "lifecycle:use_case_panel", order=67))
