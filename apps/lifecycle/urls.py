from django.urls import path

from . import views

app_name = "lifecycle"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("use-cases/<int:pk>/panel/", views.use_case_panel, name="use_case_panel"),
    path("comparisons/<int:pk>/", views.comparison_detail, name="comparison_detail"),
    path(
        "comparisons/<int:pk>/start/", views.comparison_start, name="comparison_start"
    ),
    path(
        "comparisons/<int:pk>/adopt/", views.comparison_adopt, name="comparison_adopt"
    ),
    path(
        "comparisons/<int:pk>/dismiss/",
        views.comparison_dismiss,
        name="comparison_dismiss",
    ),
]
