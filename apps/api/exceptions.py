"""One error shape for the whole API.

Every error body is a JSON object with a human-readable ``detail`` and, when the
error came through DRF, a machine-readable ``code`` (``not_authenticated``,
``permission_denied``, ``not_found``, ``throttled``, ``invalid``…). A 400 keeps
DRF's field-keyed errors beside them::

    {"detail": "title: This field is required.", "code": "invalid",
     "title": ["This field is required."], "workloads": [{"share": ["…"]}]}

Errors DRF leaves to Django (a URL under ``/api/`` that resolves to nothing, an
uncaught exception) are JSON too, through ``handler404`` / ``handler500``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler

API_PREFIX = "/api/"
# 429s always say when to come back, even when the throttle cannot tell.
DEFAULT_RETRY_AFTER = 1


def _first_message(errors: Any, prefix: str = "") -> str | None:
    """The first message in a (possibly nested) DRF error structure, with its path."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            label = "" if key in {"non_field_errors", "detail"} else str(key)
            path = f"{prefix}.{label}" if prefix and label else (label or prefix)
            found = _first_message(value, path)
            if found:
                return found
        return None
    if isinstance(errors, list):
        for item in errors:
            found = _first_message(item, prefix)
            if found:
                return found
        return None
    text = str(errors)
    if not text:
        return None
    return f"{prefix}: {text}" if prefix else text


def _code_of(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else exc.default_code


def _translate(exc: Exception) -> Exception:
    """Django's own exceptions that views let escape, as their API equivalents."""
    if isinstance(exc, Http404):
        return exceptions.NotFound(*exc.args)
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied(*exc.args)
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError(exc.message_dict)
        return exceptions.ValidationError({"non_field_errors": exc.messages})
    if isinstance(exc, ProtectedError | RestrictedError):
        conflict = exceptions.APIException(
            "Other records still refer to this one.", code="conflict"
        )
        conflict.status_code = status.HTTP_409_CONFLICT
        return conflict
    return exc


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's ``EXCEPTION_HANDLER``: DRF's handling, then the portal's error shape."""
    exc = _translate(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None  # a genuine 500: handler500 below answers it
    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        if not isinstance(data, dict):
            data = {"non_field_errors": data}
        data = {
            "detail": _first_message(data) or "Invalid input.",
            "code": "invalid",
            **{k: v for k, v in data.items() if k not in {"detail", "code"}},
        }
    elif isinstance(exc, exceptions.APIException):
        detail = data.get("detail") if isinstance(data, dict) else data
        data = {"detail": str(detail), "code": _code_of(exc)}
    response.data = data
    if response.status_code == status.HTTP_429_TOO_MANY_REQUESTS:
        response.setdefault("Retry-After", str(DEFAULT_RETRY_AFTER))
    # An error asked for as CSV (or anything else) is still JSON.
    request = context.get("request")
    renderer = getattr(request, "accepted_renderer", None)
    if request is not None and renderer is not None and renderer.format != "json":
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: JSON under ``/api/``, the usual page elsewhere."""
    if _is_api(request):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: JSON under ``/api/``, the usual page elsewhere."""
    if _is_api(request):
        return JsonResponse({"detail": "Server error.", "code": "error"}, status=500)
    return defaults.server_error(request)
