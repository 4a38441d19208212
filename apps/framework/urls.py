from django.urls import path

from . import views

app_name = "framework"
urlpatterns = [
    path("use-cases/<int:pk>/assessment/", views.assessment_panel, name="assessment"),
    path("use-cases/<int:pk>/assessment/diff/", views.assessment_diff, name="diff"),
    path("use-cases/<int:pk>/reassess/", views.reassess, name="reassess"),
    path("preview/", views.intake_preview, name="preview"),
    path("policy/", views.policy, name="policy"),
]
