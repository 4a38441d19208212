"""Request-wide concerns: a full connection pool answers 503 (clients and balancers
retry), security headers on every response, and the session's idle timeout."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
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
        return busy_response(request, exception)


def busy_response(request: HttpRequest, exception: BaseException) -> HttpResponse:
    """The 503 for a request that got no database connection (view or middleware)."""
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


class SecurityHeadersMiddleware:
    """Adds ``Content-Security-Policy`` and ``Permissions-Policy`` to every response.

    The policies come from settings, so a deployment can tighten them; a view that
    sets its own header keeps it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        for header, value in (
            ("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY),
            ("Permissions-Policy", settings.PERMISSIONS_POLICY),
        ):
            if value and header not in response:
                response[header] = value
        return response


def _now() -> float:
    return time.time()


class SessionTimeoutMiddleware:
    """Signs a session out after ``SESSION_IDLE_TIMEOUT_SECONDS`` without a request.

    Saving the session moves its cookie expiry forward, so the 14-day cap
    (``SESSION_COOKIE_AGE``) is enforced here too, from the moment of sign-in.
    Last activity is written at most once a minute, not on every request.
    """

    ACTIVITY_KEY = "_last_activity"
    STARTED_KEY = "_signed_in_at"
    WRITE_EVERY_SECONDS = 60

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            signed_in = request.user.is_authenticated  # reads the session
        except OperationalError as exc:
            # Exceptions in a middleware never reach process_exception.
            if pool_exhausted(exc):
                return busy_response(request, exc)
            raise
        if signed_in:
            session = request.session
            now = int(_now())
            last = session.get(self.ACTIVITY_KEY)
            # Stamped at sign-in (stamp_sign_in); a session from before has none.
            started = session.setdefault(self.STARTED_KEY, now)
            idle = settings.SESSION_IDLE_TIMEOUT_SECONDS
            if (last is not None and now - last > idle) or (
                now - started > settings.SESSION_COOKIE_AGE
            ):
                logout(request)  # flushes the session; the view sees an anonymous user
            elif last is None or now - last >= self.WRITE_EVERY_SECONDS:
                session[self.ACTIVITY_KEY] = now
        return self.get_response(request)


def stamp_sign_in(sender: object, *, request: HttpRequest, **kwargs: object) -> None:
    """Start both clocks at sign-in (``user_logged_in``), saved with the login."""
    if request is None or not hasattr(request, "session"):
        return
    now = int(_now())
    request.session[SessionTimeoutMiddleware.STARTED_KEY] = now
    request.session[SessionTimeoutMiddleware.ACTIVITY_KEY] = now
