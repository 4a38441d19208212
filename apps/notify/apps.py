from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "apps.notify"
    label = "notify"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from apps.core.events import Event, portal_event

        from .receivers import on_portal_event

        portal_event.connect(
            on_portal_event, sender=Event, dispatch_uid="notify.on_portal_event"
        )
