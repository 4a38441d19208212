from django.urls import path

from . import views

app_name = "usecases"
urlpatterns = [
    path("", views.use_case_list, name="list"),
    path("new/", views.use_case_create, name="create"),
    path("validate/", views.use_case_validate, name="validate"),
    path("workload-row/", views.workload_row, name="workload_row"),
    path("<int:pk>/", views.use_case_detail, name="detail"),
    path("<int:pk>/edit/", views.use_case_edit, name="edit"),
    path("<int:pk>/transition/", views.use_case_transition, name="transition"),
]
