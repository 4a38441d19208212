"""Issue 13, finding 8, in the playground: an endpoint whose stored base URL is
malformed or carries credentials (stored before the model checked it) fails in its
own column with a clear error; no 500, the other columns go on, and nothing is
sent with the URL's credentials."""

from __future__ import annotations

import asyncio

import pytest

from apps.endpoints.models import ServingEndpoint
from apps.playground import runner
from apps.playground.clients import ChatRequest, Connection
from apps.playground.models import RunOutput
from apps.playground.runner import ColumnResult, Target, run_columns
from tests.servers import FakeServer

from .conftest import form_data, stream, target

pytestmark = pytest.mark.django_db


def store_unchecked(endpoint: ServingEndpoint, url: str) -> None:
    ServingEndpoint.objects.filter(pk=endpoint.pk).update(base_url=url)


def test_a_stored_octal_address_fails_in_its_column_not_with_a_500(
    alice, local_endpoint, big_endpoint, big_server
):
    store_unchecked(local_endpoint, "http://0251.0376.0251.0376/")

    result = stream(alice, form_data(target(local_endpoint), target(big_endpoint)))

    assert result.status == 200
    assert result.column(0)["status"] == "error"
    assert "refused" in result.column(0)["error"]
    assert "Not a valid URL" in result.column(0)["error"]
    assert result.column(1)["status"] == "done"
    assert result.text(1) == big_server.chat_reply
    outputs = {o.position: o for o in RunOutput.objects.all()}
    assert outputs[0].status == "error"


def test_a_stored_url_with_credentials_sends_nothing_to_its_host(
    alice, external_endpoint, external_server: FakeServer
):
    # ``169.254.169.254\`` would be the user name, the loopback server the host.
    store_unchecked(
        external_endpoint,
        f"http://169.254.169.254\\@127.0.0.1:{external_server.port}/v1",
    )

    result = stream(
        alice,
        form_data(target(external_endpoint), data_classification="public"),
    )

    assert result.status == 200
    assert result.column(0)["status"] == "error"
    assert "Credentials in the URL" in result.column(0)["error"]
    # The server records every request's Authorization header: none arrived, so
    # neither the URL's Basic credentials nor the stored key went out.
    assert [r.headers.get("authorization") for r in external_server.requests] == []


def run(*targets: Target) -> list[ColumnResult]:
    request = ChatRequest(model="m", prompt="Which queue?", max_tokens=16)
    return asyncio.run(run_columns(targets=list(targets), request=request))


def column(position: int, base_url: str) -> Target:
    return Target(
        position=position,
        endpoint_id=position + 1,
        endpoint_name=f"Endpoint {position}",
        kind="vllm",
        location="in_house",
        model="m",
        connection=Connection(kind="vllm", base_url=base_url, api_key="sk-stored"),
    )


@pytest.mark.parametrize(
    "base_url",
    ["http://0251.0376.0251.0376/", "http://user:secret@127.0.0.1:9/v1", "ftp://x/"],
)
def test_a_run_ends_a_column_with_an_unusable_stored_url_with_its_error(
    base_url: str, local_server: FakeServer
):
    results = run(column(0, base_url), column(1, local_server.url))
    assert results[0].status == "error"
    assert "refused" in results[0].error
    assert results[1].status == "done"


def test_a_column_that_fails_unexpectedly_ends_with_an_error_not_a_hang(
    monkeypatch: pytest.MonkeyPatch, local_server: FakeServer
):
    real = runner.stream_chat

    def broken(client, connection, request):  # type: ignore[no-untyped-def]
        if connection.base_url == "http://broken.invalid":
            raise RuntimeError("a bug in a provider client")
        return real(client, connection, request)

    monkeypatch.setattr(runner, "stream_chat", broken)
    results = run(column(0, "http://broken.invalid"), column(1, local_server.url))
    assert results[0].status == "error"
    assert results[0].error == "Unexpected error while calling the endpoint."
    assert "a bug" not in results[0].error
    assert results[1].status == "done"
