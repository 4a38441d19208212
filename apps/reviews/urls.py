from django.urls import path

from . import task_views, views

app_name = "reviews"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("<int:pk>/", views.review, name="review"),
    path("<int:pk>/start/", views.start, name="start"),
    path("<int:pk>/assign/", views.assign, name="assign"),
    path("<int:pk>/decide/", views.decide, name="decide"),
    path("<int:pk>/comments/", views.thread, name="thread"),
    path("<int:pk>/timeline/", views.timeline, name="timeline"),
    path("<int:pk>/routes/", views.routes, name="routes"),
    path("attention/", task_views.attention, name="attention"),
    path("<int:pk>/tasks/", task_views.panel, name="tasks"),
    path("<int:pk>/incidents/", task_views.report, name="report_incident"),
    path(
        "conditions/<int:condition_pk>/resolve/",
        task_views.resolve,
        name="resolve_condition",
    ),
    path(
        "incidents/<int:incident_pk>/actions/", task_views.act, name="incident_action"
    ),
]
