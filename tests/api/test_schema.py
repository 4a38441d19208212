"""The OpenAPI schema describes every response, errors included, and validates."""

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema():  # type: ignore[no-untyped-def]
    return SchemaGenerator().get_schema(request=None, public=True)


def all_operations(schema):  # type: ignore[no-untyped-def]
    for path, items in schema["paths"].items():
        for method, operation in items.items():
            yield method, path, operation


def test_every_operation_documents_auth_and_throttling_errors(schema):
    for method, path, operation in all_operations(schema):
        responses = operation["responses"]
        assert "401" in responses, (method, path)
        assert "429" in responses, (method, path)
        assert "Retry-After" in responses["429"]["headers"]
        body = responses["401"]["content"]["application/json"]
        assert body["schema"] == {"$ref": "#/components/schemas/Error"}
        assert body["example"]["detail"]


def test_writes_document_field_errors_and_conflicts(schema):
    for method, path, operation in all_operations(schema):
        if method in {"post", "put", "patch"}:
            bad = operation["responses"]["400"]["content"]["application/json"]
            assert bad["schema"]["$ref"] == "#/components/schemas/ValidationError"
            assert "409" in operation["responses"], (method, path)


def test_object_routes_document_404_and_reads_document_304(schema):
    for method, path, operation in all_operations(schema):
        if "{" in path:
            assert "404" in operation["responses"], (method, path)
        if method == "get":
            assert "304" in operation["responses"], (method, path)
            names = {p["name"] for p in operation["parameters"]}
            assert "If-None-Match" in names


def test_the_error_components_require_a_detail(schema):
    components = schema["components"]["schemas"]
    assert components["Error"]["required"] == ["detail"]
    assert components["ValidationError"]["required"] == ["detail"]


def test_the_use_case_list_offers_csv(schema):
    operation = schema["paths"]["/api/v1/use-cases/"]["get"]
    assert "text/csv" in operation["responses"]["200"]["content"]
    formats = [p for p in operation["parameters"] if p["name"] == "format"]
    assert set(formats[0]["schema"]["enum"]) == {"json", "csv"}


def test_ping_is_open_so_documents_no_403(schema):
    assert "403" not in schema["paths"]["/api/v1/ping/"]["get"]["responses"]


@pytest.mark.django_db
def test_the_schema_validates_without_a_single_warning(tmp_path):
    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        "--file",
        str(tmp_path / "schema.yaml"),
    )


@pytest.mark.django_db
def test_docs_serve_swagger_ui_from_the_portal_itself(client, alice):
    client.force_login(alice)  # the docs need a signed-in user (API_DOCS_PUBLIC)
    page = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "https://" not in page.replace("https://swagger.io", "")
