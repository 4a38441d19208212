"""Pages of every list: ``page`` and ``page_size`` are checked, never guessed.

DRF falls back to the default size for a ``page_size`` it cannot read (``null``,
``abc``, ``0``) and caps one that is too large; the schema would then promise an
integer from 1 to :data:`MAX_PAGE_SIZE` while the server took anything. Here a
value outside the documented range, or a parameter given twice, is a 400 with a
field error, so the schema and the server say the same thing. A page past the
last one stays a 404, as DRF answers.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

MAX_PAGE_SIZE = 200


def _positive_int(request: Request, name: str, maximum: int | None) -> int | None:
    values = request.query_params.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise ValidationError({name: [f"Give {name} once."]})
    raw = values[0]
    if raw == "":  # as every optional query parameter: empty means absent
        return None
    # ASCII digits only: int() would also take "+5", " 5", "1_0" or Arabic-Indic
    # digits, and refuses more than 4,300 digits with an error of its own. A
    # longer number is past any page all the same.
    digits = raw.isascii() and raw.isdecimal()
    number = int(raw[:18]) if digits else 0
    if number < 1 or (maximum is not None and number > maximum):
        bounds = f"from 1 to {maximum}" if maximum is not None else "1 or more"
        raise ValidationError({name: [f"Must be a whole number, {bounds}."]})
    return number


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request: Request) -> int | None:
        size = _positive_int(request, self.page_size_query_param, self.max_page_size)
        return size if size is not None else self.page_size

    def get_page_number(self, request: Request, paginator: Any) -> int:
        # DRF's undocumented `page=last` is a 400 too, as the schema says.
        number = _positive_int(request, self.page_query_param, None)
        return number if number is not None else 1

    def check(self, request: Request) -> None:
        """Refuse bad ``page``/``page_size`` where a view skips paging (CSV)."""
        self.get_page_size(request)
        self.get_page_number(request, None)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return pagination_parameters(self.page_size or 0)


def pagination_parameters(default_size: int) -> list[dict[str, Any]]:
    """The ``page`` and ``page_size`` query parameters, as OpenAPI objects."""
    return [
        {
            "name": "page",
            "in": "query",
            "required": False,
            "description": "Which page, from 1 (default 1); a page past the last "
            "one is a 404. Anything but a whole number of 1 or more (`null`, 0, "
            "`last`, the parameter given twice) is a 400.",
            "schema": {"type": "integer", "minimum": 1},
        },
        {
            "name": "page_size",
            "in": "query",
            "required": False,
            "description": f"Results a page, 1 to {MAX_PAGE_SIZE} (default "
            f"{default_size}). Anything else (`null`, 0, more than "
            f"{MAX_PAGE_SIZE}, the parameter given twice) is a 400.",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        },
    ]


def page_parameters() -> list[OpenApiParameter]:
    """The same two parameters for an APIView that paginates by hand."""
    return [
        OpenApiParameter(p["name"], p["schema"], description=p["description"])
        for p in pagination_parameters(settings.REST_FRAMEWORK["PAGE_SIZE"])
    ]
