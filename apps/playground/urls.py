from django.urls import path

from . import views

app_name = "playground"
urlpatterns = [
    path("", views.playground, name="index"),
    path("targets/", views.targets, name="targets"),
    path("stream/", views.stream, name="stream"),
    path("runs/", views.run_list, name="run_list"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/attach/", views.run_attach, name="run_attach"),
    path("use-cases/<int:pk>/", views.use_case_panel, name="use_case_panel"),
    path(
        "use-cases/<int:pk>/test-sets/new/",
        views.test_set_create,
        name="test_set_create",
    ),
    path("test-sets/<int:pk>/", views.test_set_detail, name="test_set_detail"),
    path("test-sets/<int:pk>/inputs/", views.test_input_add, name="test_input_add"),
    path("test-sets/<int:pk>/judge/", views.test_set_judge, name="test_set_judge"),
    path(
        "test-sets/<int:pk>/inputs/<int:input_pk>/delete/",
        views.test_input_delete,
        name="test_input_delete",
    ),
    path(
        "test-sets/<int:pk>/runs/", views.test_set_run_start, name="test_set_run_start"
    ),
    path(
        "test-set-runs/<int:pk>/", views.test_set_run_detail, name="test_set_run_detail"
    ),
]
