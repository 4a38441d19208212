from django.urls import path  # noqa: F401

app_name = "framework"
urlpatterns: list = []
