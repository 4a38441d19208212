from django.urls import path

from . import views

app_name = "risk"
urlpatterns = [
    path("<int:pk>/", views.panel, name="panel"),
]
