from django.apps import AppConfig


class RiskConfig(AppConfig):
    name = "apps.risk"
    label = "risk"

    def ready(self) -> None:
        from apps.usecases.models import UseCase
        from apps.usecases.panels import Panel, register_panel
        from apps.usecases.signals import use_case_transitioned

        from . import receivers

        register_panel(Panel("Risk and approvals", "risk:panel", order=20))
        use_case_transitioned.connect(
            receivers.open_stages_on_submit,
            sender=UseCase,
            dispatch_uid="risk.open_stages_on_submit",
        )
