from django.apps import AppConfig


class FrameworkConfig(AppConfig):
    name = "apps.framework"
    label = "framework"

    def ready(self) -> None:
        from apps.catalogue.signals import catalogue_changed
        from apps.usecases.models import UseCase
        from apps.usecases.panels import Panel, register_list_annotation, register_panel
        from apps.usecases.signals import use_case_transitioned

        from . import receivers
        from .models import with_latest_recommendation_label

        register_panel(
            Panel(title="Recommendation", url_name="framework:assessment", order=10)
        )
        register_list_annotation("recommendation", with_latest_recommendation_label)
        use_case_transitioned.connect(
            receivers.assess_on_submit,
            sender=UseCase,
            dispatch_uid="framework.assess_on_submit",
        )
        catalogue_changed.connect(
            receivers.reassess_on_price_change,
            dispatch_uid="framework.reassess_on_price_change",
        )
