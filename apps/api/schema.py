"""OpenAPI descriptions for the portal's own pieces: bearer tokens and errors.

:func:`describe_errors` is a drf-spectacular postprocessing hook: it adds the
error responses every operation can give (400, 401, 403, 404, 409, 429, with the
shapes :mod:`apps.api.exceptions` produces), the 304 of a conditional GET and the
``?format=csv`` parameter where a list offers CSV, so resource modules describe
only their successes. A response an operation already documents is left alone.

It also marks every optional query parameter ``allowEmptyValue``: the filters,
the query serializers and the paginator all read ``?team=`` as no ``team`` at all
(the empty value of an HTML form), and the schema says so; and it gives free text,
in a query or a request body, a pattern without NUL, which the server refuses.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.validators import MaxLengthValidator, MinLengthValidator
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.serializers import ListSerializer

ERROR = {"$ref": "#/components/schemas/Error"}
VALIDATION_ERROR = {"$ref": "#/components/schemas/ValidationError"}

ERROR_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Every error: a message for people and a code for programs.",
        "properties": {
            "detail": {"type": "string", "description": "What went wrong."},
            "code": {
                "type": "string",
                "description": "Stable, machine-readable: `not_authenticated`, "
                "`authentication_failed`, `permission_denied`, `not_found`, "
                "`method_not_allowed`, `throttled`, `conflict`…",
            },
        },
        "required": ["detail"],
    },
    "ValidationError": {
        "type": "object",
        "description": "A 400: `detail` names the first problem; every other key is "
        "a field (or `non_field_errors`) mapped to its messages, nested like the "
        "input for nested objects and lists.",
        "properties": {
            "detail": {"type": "string"},
            "code": {
                "type": "string",
                "description": "`invalid` for field errors, `parse_error` for a body "
                "that is not valid JSON.",
            },
            "non_field_errors": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["detail"],
        "additionalProperties": {},
    },
}


def _json(schema: dict, description: str, example: dict) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema, "example": example}},
    }


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before the next request.",
        "required": True,
        "schema": {"type": "integer"},
    }
}

RESPONSES: dict[str, dict[str, Any]] = {
    "400": _json(
        VALIDATION_ERROR,
        "Invalid input: field errors keyed by field name.",
        {
            "detail": "requests_per_day: Ensure this value is greater than or equal to 0.",
            "code": "invalid",
            "requests_per_day": ["Ensure this value is greater than or equal to 0."],
        },
    ),
    "401": _json(
        ERROR,
        "No credentials, or an invalid, expired or revoked token.",
        {
            "detail": "Invalid, expired or revoked token.",
            "code": "authentication_failed",
        },
    ),
    "403": _json(
        ERROR,
        "Authenticated, but the role or the token's scope does not allow this.",
        {"detail": "This API token is read-only.", "code": "permission_denied"},
    ),
    "404": _json(
        ERROR,
        "No such object, or not one you may see; also an out-of-range page.",
        {"detail": "No UseCase matches the given query.", "code": "not_found"},
    ),
    "409": _json(
        ERROR,
        "The object's state does not allow this now (e.g. an illegal transition).",
        {"detail": "A submitted use-case cannot move to live.", "code": "conflict"},
    ),
    "429": {
        **_json(
            ERROR,
            "Too many requests for this token; wait `Retry-After` seconds.",
            {
                "detail": "Request was throttled. Expected available in 12 seconds.",
                "code": "throttled",
            },
        ),
        "headers": RETRY_AFTER,
    },
}

NOT_MODIFIED = {
    "description": "Not modified: the `If-None-Match` ETag still matches; no body.",
    "headers": {"ETag": {"schema": {"type": "string"}}},
}
IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "schema": {"type": "string"},
    "description": "An ETag from an earlier response; a 304 if nothing changed.",
}
FORMAT_PARAMETER = {
    "in": "query",
    "name": "format",
    "required": False,
    "allowEmptyValue": True,
    "schema": {"type": "string", "enum": ["json", "csv"]},
    "description": "`csv` for a spreadsheet: one row per result, nested fields as "
    "dotted columns.",
}
WRITE_METHODS = {"post", "put", "patch", "delete"}


def _error_statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    parameters = operation.get("parameters", [])
    has_query = any(p.get("in") == "query" for p in parameters)
    statuses = ["401"]
    if {} not in operation.get("security", [{}]):  # an open endpoint never says 403
        statuses.append("403")
    if "{" in path or has_query:
        statuses.append("404")
    if "requestBody" in operation or has_query or method in WRITE_METHODS:
        statuses.append("400")
    if method in WRITE_METHODS:
        statuses.append("409")
    statuses.append("429")
    return statuses


# drf-spectacular's pattern for a DecimalField, ``^-?\d{0,3}(?:\.\d{0,2})?$``,
# also matches "", "-" and ".", which DRF refuses: ask for a digit.
SPECTACULAR_DECIMAL = re.compile(r"^\^-\?\\d\{0,(\d+)\}\(\?:\\\.\\d\{0,(\d+)\}\)\?\$$")


def _require_a_digit(schema: Any) -> None:
    if isinstance(schema, dict):
        match = SPECTACULAR_DECIMAL.match(str(schema.get("pattern", "")))
        if match and int(match[1]) > 0 and int(match[2]) > 0:
            whole, places = match[1], match[2]
            schema["pattern"] = (
                rf"^-?(?:\d{{1,{whole}}}(?:\.\d{{0,{places}}})?|\.\d{{1,{places}}})$"
            )
        for value in schema.values():
            _require_a_digit(value)
    elif isinstance(schema, list):
        for value in schema:
            _require_a_digit(value)


# Django's form fields, DRF's CharField and its SearchFilter all refuse a NUL
# character (PostgreSQL cannot store it) with a 400: free text in a query or a
# request body says so.
NO_NUL = "^[^\\u0000]*$"


# DRF trims text before checking it, so a required text of spaces only is blank:
# a 400. Such a field needs one character that is not a space.
NOT_BLANK_NO_NUL = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


def _refuse_nul(schema: dict[str, Any]) -> None:
    free_text = schema.get("type") == "string" and not (
        {"enum", "format", "pattern"} & set(schema)
    )
    if free_text:
        schema["pattern"] = (
            NOT_BLANK_NO_NUL if schema.get("minLength", 0) >= 1 else NO_NUL
        )


def _request_components(result: dict[str, Any]) -> set[str]:
    """The names of the components a request body uses, nested ones included."""
    schemas = result.get("components", {}).get("schemas", {})
    found: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                name = ref.rsplit("/", 1)[1]
                if name not in found and name in schemas:
                    found.add(name)
                    visit(schemas[name])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            visit(operation.get("requestBody", {}))
    return found


def _refuse_nul_in_body(schema: Any) -> None:
    if not isinstance(schema, dict):
        return
    _refuse_nul(schema)
    for value in schema.get("properties", {}).values():
        _refuse_nul_in_body(value)
    _refuse_nul_in_body(schema.get("items"))
    for key in ("oneOf", "anyOf", "allOf"):
        for value in schema.get(key, []):
            _refuse_nul_in_body(value)


def _no_negative_amounts(schema: dict[str, Any]) -> None:
    """Amounts a client sends (hourly costs, prices) are never negative: the
    server refuses them, so the request's pattern has no minus sign."""
    for value in schema.get("properties", {}).values():
        pattern = value.get("pattern", "") if isinstance(value, dict) else ""
        if value.get("format") == "decimal" and pattern.startswith("^-?"):
            value["pattern"] = "^" + pattern[3:]


def describe_errors(result, generator, request, public):  # type: ignore[no-untyped-def]
    """drf-spectacular postprocessing hook (see the module docstring)."""
    _require_a_digit(result)
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in ERROR_SCHEMAS.items():
        schemas.setdefault(name, schema)
    for name in _request_components(result):
        _refuse_nul_in_body(schemas[name])
        _no_negative_amounts(schemas[name])
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in _error_statuses(path, method, operation):
                responses.setdefault(code, RESPONSES[code])
            for parameter in operation.get("parameters", []):
                if (
                    parameter.get("in") == "query"
                    and not parameter.get("required")
                    # A list filter reads `?status=` as one empty choice: a 400;
                    # an empty `?ordering=` is the default order.
                    and (
                        parameter.get("schema", {}).get("type") != "array"
                        or parameter.get("name") == "ordering"
                    )
                ):
                    parameter["allowEmptyValue"] = True
                if parameter.get("in") == "query":
                    _refuse_nul(parameter.get("schema", {}))
            if method != "get":
                continue
            responses.setdefault("304", NOT_MODIFIED)
            parameters = operation.setdefault("parameters", [])
            names = {(p.get("in"), p.get("name")) for p in parameters}
            if ("header", "If-None-Match") not in names:
                parameters.append(IF_NONE_MATCH)
            ok = responses.get("200", {}).get("content", {})
            if "text/csv" in ok and ("query", "format") not in names:
                parameters.append(FORMAT_PARAMETER)
    return result


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):  # type: ignore[no-untyped-def]
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from the tokens page (platform) or "
            "`manage.py issue_api_token`: `Authorization: Bearer aip_…`. "
            "Read-only tokens may only GET.",
        }


class BoundedListSerializer(ListSerializer):
    """A list of ``child`` whose ``min_length``/``max_length`` the schema shows as
    ``minItems``/``maxItems`` (drf-spectacular reads validators, not the bounds)."""

    def get_validators(self) -> list[Any]:
        validators = list(super().get_validators())
        if self.min_length is not None:
            validators.append(MinLengthValidator(self.min_length))
        if self.max_length is not None:
            validators.append(MaxLengthValidator(self.max_length))
        return validators
