from django.urls import path

from . import views

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
]
