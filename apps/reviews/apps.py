from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "apps.reviews"
    label = "reviews"

    def ready(self) -> None:
        from apps.usecases.lifecycle import register_guard
        from apps.usecases.panels import (
            Panel,
            register_list_annotation,
            register_next_step,
            register_panel,
        )
        from apps.usecases.signals import use_case_transitioned

        from .conditions import go_live_guard, with_attention_flags
        from .notifications import on_use_case_transitioned

        register_guard("reviews.conditions_before_go_live", go_live_guard)
        register_list_annotation("attention", with_attention_flags)

        use_case_transitioned.connect(
            on_use_case_transitioned, dispatch_uid="reviews.notify_transition"
        )
        register_panel(Panel("Board review", "reviews:thread", order=60))
        register_panel(Panel("Routes", "reviews:routes", order=65))
        register_panel(Panel("Conditions and incidents", "reviews:tasks", order=62))
        register_panel(Panel("Audit trail", "reviews:timeline", order=90))

        from .next_steps import board_next_step

        register_next_step(50, board_next_step)
