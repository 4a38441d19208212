"""ASGI entry point: pages and API, the playground's streams, and the gateway.

``/gateway/`` goes to a Django handler without the middleware stack: the
gateway authenticates by key, keeps no session, sets no cookie and renders no
page, and each sync-only middleware would cost every request a thread hop
(bench/gateway.py measured about 1 ms of CPU per request). Everything else goes
through the full stack.
"""

import os
from typing import Any

from django.core.asgi import get_asgi_application
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
pages = get_asgi_application()  # sets Django up


class BareHandler(ASGIHandler):
    """Django's ASGI handler with no middleware at all."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        get_response = self._get_response_async if is_async else self._get_response
        handler = convert_exception_to_response(get_response)
        self._middleware_chain = self.adapt_method_mode(is_async, handler, is_async)


gateway = BareHandler()


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope.get("path", "").startswith("/gateway/"):
        await gateway(scope, receive, send)
    else:
        await pages(scope, receive, send)
