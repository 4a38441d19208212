"""Weak ETags and conditional GET (``If-None-Match`` → 304) for API reads.

The ETag is a hash of the rendered body, so it needs nothing from the view: a tool
polling a list or a report sends back the ETag it last saw and gets an empty 304
while nothing changed. The body is still built (that is the price of knowing
nothing about the view); the saving is the transfer and the client's parsing.

Three ways in, all through :func:`conditional_response`:

- :class:`ApiConditionalGetMiddleware` (in ``MIDDLEWARE``) covers every GET under
  ``/api/v1/``, so each resource module gets it without doing anything;
- :class:`ConditionalGetMixin` for a DRF view mounted elsewhere;
- :func:`conditional_get` for a function view (an export page, say).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import (
    get_conditional_response,
    patch_cache_control,
    patch_vary_headers,
)

ETAG_PATH_PREFIXES = ("/api/v1/",)


def weak_etag(content: bytes) -> str:
    """``W/"…"``: weak, because equal bytes are all it promises."""
    return f'W/"{hashlib.sha256(content).hexdigest()[:32]}"'


def conditional_response(
    request: HttpRequest, response: HttpResponseBase
) -> HttpResponseBase:
    """Tag a successful GET/HEAD response; a 304 when the client's tag matches."""
    if (
        request.method not in {"GET", "HEAD"}
        or response.status_code != 200
        or response.streaming
        or not isinstance(response, HttpResponse)
    ):
        return response
    render = getattr(response, "render", None)
    if callable(render):
        render()  # a DRF/template response is rendered once; Django skips it later
    if not response.has_header("ETag"):
        response["ETag"] = weak_etag(response.content)
    # The body depends on who asks: shared caches must key on the credentials, and
    # private ones revalidate (cheaply, with the ETag) instead of guessing.
    patch_vary_headers(response, ("Authorization",))
    if not response.has_header("Cache-Control"):
        patch_cache_control(response, private=True, no_cache=True)
    return get_conditional_response(request, etag=response["ETag"], response=response)


class ApiConditionalGetMiddleware:
    """Conditional GET for every read under ``ETAG_PATH_PREFIXES``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.path.startswith(ETAG_PATH_PREFIXES):
            return conditional_response(request, response)
        return response


class ConditionalGetMixin:
    """For a DRF view outside ``/api/v1/``: put it first among the bases."""

    def finalize_response(self, request, response, *args, **kwargs):  # type: ignore[no-untyped-def]
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        return conditional_response(request, response)


def conditional_get(view: Callable[..., HttpResponseBase]) -> Callable[..., Any]:
    """Decorator for a function view: weak ETag and 304s on its GETs."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return conditional_response(request, view(request, *args, **kwargs))

    return wrapped
