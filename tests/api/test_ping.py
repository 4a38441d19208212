"""`/api/v1/ping/`: open to all, and says whether the caller's token works."""

import pytest

URL = "/api/v1/ping/"


@pytest.mark.django_db
class TestPing:
    def test_it_answers_anonymous_callers(self, api_client):
        response = api_client.get(URL)
        assert response.status_code == 200
        assert response.json() == {
            "status": "ok",
            "api_version": "v1",
            "authenticated": False,
        }

    def test_it_says_a_token_works(self, api_client, bob, bearer):
        assert api_client.get(URL, **bearer(bob)).json()["authenticated"] is True

    def test_a_bad_token_is_refused_even_here(self, api_client):
        response = api_client.get(URL, HTTP_AUTHORIZATION="Bearer aip_wrong")
        assert response.status_code == 401
