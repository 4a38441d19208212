from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("", views.token_list, name="tokens"),
    path("new/", views.token_create, name="token_create"),
    path("<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
]
