from django.urls import path

from . import views

app_name = "endpoints"
urlpatterns = [
    path("", views.endpoint_list, name="list"),
    path("new/", views.endpoint_create, name="create"),
    path("<int:pk>/", views.endpoint_detail, name="detail"),
    path("<int:pk>/edit/", views.endpoint_edit, name="edit"),
    path("<int:pk>/test/", views.endpoint_test, name="test"),
    path("<int:pk>/mappings/", views.mapping_add, name="mapping_add"),
    path(
        "<int:pk>/mappings/<int:mapping_pk>/delete/",
        views.mapping_delete,
        name="mapping_delete",
    ),
    path("use-case/<int:pk>/usage/", views.use_case_usage_panel, name="usecase_usage"),
]
