from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "apps.reviews"
    label = "reviews"

    def ready(self) -> None:
        from apps.usecases.panels import Panel, register_next_step, register_panel
        from apps.usecases.signals import use_case_transitioned

        from .notifications import on_use_case_transitioned

        use_case_transitioned.connect(
            on_use_case_transitioned, dispatch_uid="reviews.notify_transition"
        )
        register_panel(Panel("Board review", "reviews:thread", order=60))
        register_panel(Panel("Routes", "reviews:routes", order=65))
        register_panel(Panel("Audit trail", "reviews:timeline", order=90))

        from .next_steps import board_next_step

        register_next_step(50, board_next_step)
