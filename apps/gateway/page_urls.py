"""The gateway panels (keys, traffic), mounted by ``portal/urls.py`` under ``use-cases/<pk>/gateway/``.

The runtime (``/gateway/v1/…``) has its own ``urls.py``.
"""

from django.urls import path

from . import pages

app_name = "gateway_keys"
urlpatterns = [
    path("", pages.key_panel, name="panel"),
    path("traffic/", pages.traffic_panel, name="traffic"),
    path("keys/", pages.key_issue, name="issue"),
    path("keys/<int:key_pk>/revoke/", pages.key_revoke, name="revoke"),
]
