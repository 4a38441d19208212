from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "apps.gateway"
    verbose_name = "Governance gateway"
    default_auto_field = "django.db.models.BigAutoField"
