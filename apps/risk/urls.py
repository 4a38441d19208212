from django.urls import path

from . import views

app_name = "risk"
urlpatterns = [
    path("register/", views.register, name="register"),
    path("policy/", views.policy, name="policy"),
    path("stages/<int:stage_pk>/decide/", views.decide_stage, name="decide_stage"),
    path("<int:pk>/", views.panel, name="panel"),
    path("<int:pk>/assessment/", views.assessment, name="assessment"),
    path("<int:pk>/open-stages/", views.open_missing_stages, name="open_stages"),
    path("<int:pk>/evidence.csv", views.evidence, name="evidence"),
]
