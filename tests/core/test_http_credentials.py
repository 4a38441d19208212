"""Issue 13, finding 8, in the guarded clients: credentials written into a URL are
refused at connect time, whatever was stored, so httpx never turns them into an
``Authorization: Basic`` header; an unparseable URL is refused as unsafe rather
than raised as httpx's ``InvalidURL`` (which callers do not expect)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from apps.core.http import UnsafeURL, check_url, make_async_client, make_client
from tests.servers import FakeServer

LOOPBACK = ["127.0.0.0/8", "::1/128"]


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        server.json("/v1/models", {"data": []})
        yield server


def authorizations(server: FakeServer) -> list[str | None]:
    """The Authorization header of every request the server received."""
    return [request.headers.get("authorization") for request in server.requests]


def userinfo_urls(server: FakeServer) -> list[str]:
    return [
        f"http://169.254.169.254\\@127.0.0.1:{server.port}/v1/models",
        f"http://user:secret@127.0.0.1:{server.port}/v1/models",
        f"http://user@127.0.0.1:{server.port}/v1/models",
        f"http://:secret@127.0.0.1:{server.port}/v1/models",
    ]


def test_the_client_refuses_credentials_in_the_url_and_sends_nothing(
    server: FakeServer,
) -> None:
    with make_client(allowed_networks=LOOPBACK, timeout=2) as client:
        for url in userinfo_urls(server):
            with pytest.raises(UnsafeURL, match="Credentials in the URL"):
                client.get(url, headers={"authorization": "Bearer stored-key"})
    assert authorizations(server) == []


def test_the_transport_refuses_credentials_even_in_a_request_built_elsewhere(
    server: FakeServer,
) -> None:
    """``client.send`` skips ``build_request``: the transport checks again."""
    request = httpx.Request("GET", f"http://user:secret@127.0.0.1:{server.port}/")
    with (
        make_client(allowed_networks=LOOPBACK, timeout=2) as client,
        pytest.raises(UnsafeURL, match="Credentials in the URL"),
    ):
        client.send(request)
    assert authorizations(server) == []


def test_credentials_in_the_clients_base_url_are_refused_too(
    server: FakeServer,
) -> None:
    with (
        make_client(
            allowed_networks=LOOPBACK,
            timeout=2,
            base_url=f"http://user:secret@127.0.0.1:{server.port}",
        ) as client,
        pytest.raises(UnsafeURL, match="Credentials in the URL"),
    ):
        client.get("/v1/models")
    assert authorizations(server) == []


def test_the_async_client_refuses_credentials_in_the_url(server: FakeServer) -> None:
    async def go() -> None:
        async with make_async_client(allowed_networks=LOOPBACK, timeout=2) as client:
            for url in userinfo_urls(server):
                with pytest.raises(UnsafeURL, match="Credentials in the URL"):
                    await client.get(url)
            request = httpx.Request("GET", f"http://u:p@127.0.0.1:{server.port}/")
            with pytest.raises(UnsafeURL, match="Credentials in the URL"):
                await client.send(request)

    asyncio.run(go())
    assert authorizations(server) == []


def test_the_same_server_without_credentials_gets_only_the_key_it_is_given(
    server: FakeServer,
) -> None:
    with make_client(allowed_networks=LOOPBACK, timeout=2) as client:
        response = client.get(
            f"{server.url}/v1/models", headers={"authorization": "Bearer stored-key"}
        )
    assert response.status_code == 200
    assert authorizations(server) == ["Bearer stored-key"]


@pytest.mark.parametrize(
    "url",
    [
        "http://0251.0376.0251.0376/",
        "http://[::1/",
        "http://127.0.0.1:99999/",
        "http://127.0.0.1:0/",
    ],
)
def test_an_unparseable_url_is_refused_as_unsafe_not_raised_as_invalid_url(
    url: str,
) -> None:
    with (
        make_client(allowed_networks=LOOPBACK, timeout=2) as client,
        pytest.raises(UnsafeURL),
    ):
        client.get(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254\\@127.0.0.1:8000/",
        "http://127.0.0.1:8000\\@169.254.169.254/",
        "http://127.0.0.1:8000/ v1",
        "http://127.0.0.1:8000/\tv1",
        "http://127.0.0.1:8000/\nHost: x",
    ],
)
def test_check_url_refuses_backslashes_spaces_and_control_characters(
    url: str,
) -> None:
    with pytest.raises(UnsafeURL):
        check_url(url, allowed_networks=LOOPBACK)
