"""A full database connection pool answers 503, which clients and balancers retry."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


class DatabaseBusyMiddleware:
    """Turns "no pooled connection within DB_POOL_TIMEOUT" into a 503.

    The view got no database connection: nothing was written, so the request can
    be repeated. Any other database error stays a 500.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not (isinstance(exception, OperationalError) and pool_exhausted(exception)):
            return None
        logger.warning("No database connection for %s: %s", request.path, exception)
        message = "The database is busy; try again shortly."
        response: HttpResponse
        if request.path.startswith("/api/"):  # the API's error shape
            response = JsonResponse(
                {"detail": message, "code": "database_busy"}, status=503
            )
        else:
            response = HttpResponse(
                message, status=503, content_type="text/plain; charset=utf-8"
            )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


def pool_exhausted(error: BaseException) -> bool:
    """Whether ``error`` (or what it wraps) is psycopg_pool's timeout or queue limit."""
    try:
        from psycopg_pool import PoolTimeout, TooManyRequests
    except ImportError:  # SQLite-only installs have no pool
        return False
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, PoolTimeout | TooManyRequests):
            return True
        seen = seen.__cause__
    return False
