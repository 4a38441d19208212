from django.apps import AppConfig


class FrameworkConfig(AppConfig):
    name = "apps.framework"
    label = "framework"
