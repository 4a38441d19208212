from django.urls import path

from . import views

app_name = "catalogue"
urlpatterns = [
    path("", views.catalogue_list, name="list"),
    path("models/new/", views.model_create, name="model_create"),
    path("models/<int:pk>/", views.model_detail, name="model_detail"),
    path("models/<int:pk>/edit/", views.model_edit, name="model_edit"),
    path("gpus/new/", views.gpu_create, name="gpu_create"),
    path("gpus/<int:pk>/", views.gpu_detail, name="gpu_detail"),
    path("gpus/<int:pk>/edit/", views.gpu_edit, name="gpu_edit"),
]
