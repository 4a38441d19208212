"""Each token has its own request budget; past it, a 429 says when to come back."""

import pytest

URL = "/api/v1/use-cases/"


@pytest.fixture
def tiny_rate(settings):  # type: ignore[no-untyped-def]
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "per_token": "3/minute",
        },
    }


@pytest.mark.django_db
class TestPerTokenThrottle:
    def test_it_answers_429_with_retry_after_once_the_budget_is_spent(
        self, client, bob, bearer, tiny_rate
    ):
        headers = bearer(bob)
        statuses = [client.get(URL, **headers).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        throttled = client.get(URL, **headers)
        assert throttled.status_code == 429
        assert 1 <= int(throttled["Retry-After"]) <= 60
        assert throttled.json()["code"] == "throttled"
        assert "throttled" in throttled.json()["detail"]

    def test_each_token_has_its_own_budget(self, client, bob, bearer, tiny_rate):
        first, second = bearer(bob), bearer(bob)
        for _ in range(3):
            assert client.get(URL, **first).status_code == 200
        assert client.get(URL, **first).status_code == 429
        assert client.get(URL, **second).status_code == 200

    def test_a_session_user_is_throttled_apart_from_their_tokens(
        self, client, bob, bearer, tiny_rate
    ):
        headers = bearer(bob)
        for _ in range(3):
            client.get(URL, **headers)
        assert client.get(URL, **headers).status_code == 429
        client.force_login(bob)
        assert client.get(URL).status_code == 200

    def test_the_default_rate_lets_ordinary_use_through(self, client, bob, bearer):
        headers = bearer(bob)
        assert all(client.get(URL, **headers).status_code == 200 for _ in range(10))
