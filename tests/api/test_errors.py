"""Every API error is JSON with a `detail`; 400s keep DRF's field-keyed errors."""

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError

from apps.api.exceptions import api_exception_handler
from apps.usecases.models import UseCase
from tests.factories import UseCaseFactory

URL = "/api/v1/use-cases/"


def assert_json_error(response, status):  # type: ignore[no-untyped-def]
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@pytest.mark.django_db
class TestErrorShape:
    def test_anonymous_gets_a_json_401_with_a_bearer_challenge(self, api_client):
        response = api_client.get(URL)
        body = assert_json_error(response, 401)
        assert body["code"] == "not_authenticated"
        assert response["WWW-Authenticate"] == "Bearer"

    def test_an_unknown_token_is_a_json_401(self, api_client):
        response = api_client.get(URL, HTTP_AUTHORIZATION="Bearer aip_nonsense")
        body = assert_json_error(response, 401)
        assert body["code"] == "authentication_failed"

    def test_a_refused_role_is_a_json_403(self, api_client, bob):
        api_client.force_authenticate(bob)
        body = assert_json_error(api_client.post(URL, {}), 403)
        assert body["code"] == "permission_denied"

    def test_an_invisible_object_is_a_json_404(self, api_client, alice, carol):
        secret = UseCaseFactory(owner=carol, data_classification="restricted")
        api_client.force_authenticate(alice)
        body = assert_json_error(api_client.get(f"{URL}{secret.pk}/"), 404)
        assert body["code"] == "not_found"

    def test_an_unknown_path_under_api_is_a_json_404(self, client, alice):
        client.force_login(alice)
        assert_json_error(client.get("/api/v1/no-such-thing/"), 404)
        assert_json_error(client.get("/api/v1/use-cases/1/decision/x/"), 404)

    def test_an_unknown_page_outside_the_api_is_still_html(self, client, alice):
        client.force_login(alice)
        response = client.get("/no-such-page/")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("text/html")

    def test_an_unsupported_method_is_a_json_405(self, api_client, alice):
        api_client.force_authenticate(alice)
        body = assert_json_error(api_client.delete(URL), 405)
        assert body["code"] == "method_not_allowed"

    def test_an_out_of_range_page_is_a_json_404(self, api_client, alice):
        api_client.force_authenticate(alice)
        assert_json_error(api_client.get(URL, {"page": 99}), 404)

    def test_a_400_keeps_field_errors_keyed_by_field_and_adds_a_detail(
        self, api_client, alice
    ):
        api_client.force_authenticate(alice)
        body = assert_json_error(
            api_client.post(URL, {"title": "x", "requests_per_day": -1}), 400
        )
        assert body["code"] == "invalid"
        assert isinstance(body["requests_per_day"], list)
        assert isinstance(body["workloads"], list)  # required, missing
        field, _, message = body["detail"].partition(": ")
        assert field in body and message in str(body[field])
        assert not UseCase.objects.exists()

    def test_a_409_is_json(self, api_client, alice):
        use_case = UseCaseFactory(owner=alice)
        api_client.force_authenticate(alice)
        response = api_client.post(
            f"{URL}{use_case.pk}/transition/", {"to_status": "live"}
        )
        assert_json_error(response, 409)

    def test_an_error_asked_for_as_csv_is_still_json(self, api_client, alice):
        api_client.force_authenticate(alice)
        response = api_client.get(URL, {"format": "csv", "page": 99})
        assert_json_error(response, 404)


class TestHandlerTranslatesDjangoErrors:
    def context(self):  # type: ignore[no-untyped-def]
        return {"request": None, "view": None}

    def test_a_django_validation_error_becomes_a_400_by_field(self):
        exc = DjangoValidationError({"share": ["Shares must add up to 100."]})
        response = api_exception_handler(exc, self.context())
        assert response.status_code == 400
        assert response.data["share"] == ["Shares must add up to 100."]
        assert response.data["detail"] == "share: Shares must add up to 100."

    def test_a_bare_django_validation_error_is_a_non_field_error(self):
        response = api_exception_handler(DjangoValidationError("Nope."), self.context())
        assert response.status_code == 400
        assert response.data["non_field_errors"] == ["Nope."]
        assert response.data["detail"] == "Nope."

    def test_a_protected_delete_is_a_409(self):
        response = api_exception_handler(
            ProtectedError("in use", set()), self.context()
        )
        assert response.status_code == 409
        assert response.data["code"] == "conflict"

    def test_nested_field_errors_name_their_path(self):
        from rest_framework.exceptions import ValidationError

        exc = ValidationError({"workloads": [{}, {"share": ["Too big."]}]})
        response = api_exception_handler(exc, self.context())
        assert response.data["detail"] == "workloads.share: Too big."
        assert response.data["workloads"][1]["share"] == ["Too big."]

    def test_anything_else_is_left_to_the_500_handler(self):
        assert api_exception_handler(RuntimeError("boom"), self.context()) is None


def test_a_server_error_under_the_api_is_json(rf):  # type: ignore[no-untyped-def]
    from apps.api.exceptions import server_error

    response = server_error(rf.get("/api/v1/use-cases/"))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert b'"detail"' in response.content
    html = server_error(rf.get("/use-cases/"))
    assert html["Content-Type"].startswith("text/html")
