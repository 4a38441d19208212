from django.urls import path

from . import plan_views, views

app_name = "portfolio"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("export/<slug:table>.csv", views.export, name="export"),
    path("board-pack/", views.board_pack, name="board_pack"),
    path("reconciliation/", views.reconciliation_report, name="reconciliation"),
    path("budgets/", views.budget_list, name="budgets"),
    path("budgets/new/", views.budget_create, name="budget_create"),
    path("budgets/<int:pk>/edit/", views.budget_edit, name="budget_edit"),
    path("budgets/<int:pk>/delete/", views.budget_delete, name="budget_delete"),
    path("plan/", plan_views.plan_page, name="plan"),
    path("plan/save/", plan_views.plan_save, name="plan_save"),
    path("plan/use-case/<int:pk>/", plan_views.plan_note, name="plan_note"),
]
