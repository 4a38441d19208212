"""The SSRF guard: check_url and the guarded clients."""

from __future__ import annotations

import asyncio
import socket
import sys
import types
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from apps.core.http import UnsafeURL, check_url, make_async_client, make_client
from tests.servers import FakeServer

LOOPBACK = ["127.0.0.0/8", "::1/128"]


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every address a socket was asked to connect to."""
    seen: list[Any] = []
    real = socket.create_connection

    def spy(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        seen.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", spy)
    return seen


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> None:
    real = socket.getaddrinfo

    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host in ("127.0.0.1", "::1"):  # the connect after the check
            return real(host, port, *args, **kwargs)
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (ip, port),
            )
            for ip in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://100.100.100.200/",
        "http://[fe80::1]/",
        "http://[::ffff:169.254.169.254]/",
    ],
)
def test_it_always_refuses_metadata_and_link_local_even_when_allowed(url: str) -> None:
    with pytest.raises(UnsafeURL):
        check_url(url, allowed_networks=["0.0.0.0/0", "::/0", "169.254.0.0/16"])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://localhost/",
        "http://[::1]/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0x7f.1/",
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://10.1.2.3:8000/metrics",
        "http://192.168.0.10/",
        "http://[fd12:3456::1]/",
    ],
)
def test_it_refuses_loopback_and_private_forms_without_an_allowlist(url: str) -> None:
    with pytest.raises(UnsafeURL):
        check_url(url, allowed_networks=[])


@pytest.mark.parametrize(
    "url",
    [
        "http://0.0.0.0/",
        "http://0/",
        "http://[::]/",
        "http://224.0.0.1/",
        "http://[ff02::1]/",
        "http://240.0.0.1/",
        "http://255.255.255.255/",
    ],
)
def test_it_refuses_unspecified_multicast_and_reserved_addresses(url: str) -> None:
    with pytest.raises(UnsafeURL):
        check_url(url, allowed_networks=["0.0.0.0/0", "::/0"])


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
        "ftp://example.com/",
        "http://user:pass@93.184.215.14/",
        "http://0177.0.0.1/",
        "not a url",
    ],
)
def test_it_refuses_other_schemes_credentials_and_malformed_urls(url: str) -> None:
    with pytest.raises(UnsafeURL):
        check_url(url, allowed_networks=["0.0.0.0/0"])


def test_it_allows_a_loopback_address_inside_the_allowed_networks() -> None:
    check_url("http://127.0.0.1:8000/metrics", allowed_networks=["127.0.0.1/32"])
    check_url("http://[::ffff:127.0.0.1]/", allowed_networks=["127.0.0.1/32"])


def test_it_allows_only_the_allowlisted_address_not_its_neighbours() -> None:
    check_url("http://10.1.2.3/", allowed_networks=["10.1.2.3/32"])
    with pytest.raises(UnsafeURL):
        check_url("http://10.1.2.4/", allowed_networks=["10.1.2.3/32"])


def test_it_allows_public_addresses() -> None:
    check_url("https://93.184.215.14/v1/models", allowed_networks=[])


def test_it_refuses_localhost_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UnsafeURL, match="loopback"):
        check_url("http://localhost:8000/", allowed_networks=[])


def test_it_refuses_a_name_when_any_resolved_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {"mixed.example": ["93.184.215.14", "127.0.0.1"]})
    with pytest.raises(UnsafeURL, match=r"127\.0\.0\.1"):
        check_url("http://mixed.example/", allowed_networks=[])


def test_it_refuses_a_name_that_does_not_resolve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {})
    with pytest.raises(UnsafeURL, match="resolve"):
        check_url("http://nowhere.invalid/", allowed_networks=["0.0.0.0/0"])


def test_it_rejects_an_invalid_allowed_network() -> None:
    with pytest.raises(ValueError, match="not-a-cidr"):
        check_url("http://127.0.0.1/", allowed_networks=["not-a-cidr"])


def test_it_fetches_from_an_allowed_loopback_server(server: FakeServer) -> None:
    with make_client(allowed_networks=LOOPBACK) as client:
        response = client.get(f"{server.url}/health")
    assert response.status_code == 200


def test_it_refuses_a_loopback_server_outside_the_allowlist_without_connecting(
    server: FakeServer, connects: list[Any]
) -> None:
    with make_client(allowed_networks=[]) as client, pytest.raises(UnsafeURL):
        client.get(f"{server.url}/health")
    assert connects == []
    assert server.requests == []


def test_it_refuses_a_redirect_to_the_metadata_address(
    server: FakeServer, connects: list[Any]
) -> None:
    server.redirect("/metrics", location="http://169.254.169.254/latest/meta-data/")
    with (
        make_client(allowed_networks=LOOPBACK, follow_redirects=True) as client,
        pytest.raises(UnsafeURL, match="metadata"),
    ):
        client.get(f"{server.url}/metrics")
    assert [address[0] for address in connects] == ["127.0.0.1"]


def test_it_refuses_a_redirect_to_a_loopback_address_outside_the_allowlist(
    server: FakeServer,
) -> None:
    server.redirect("/a", location=f"http://127.0.0.2:{server.port}/health")
    with (
        make_client(allowed_networks=["127.0.0.1/32"], follow_redirects=True) as client,
        pytest.raises(UnsafeURL, match=r"127\.0\.0\.2"),
    ):
        client.get(f"{server.url}/a")


def test_it_follows_a_redirect_that_stays_allowed(server: FakeServer) -> None:
    server.redirect("/old", location=f"{server.url}/health")
    with make_client(allowed_networks=LOOPBACK, follow_redirects=True) as client:
        response = client.get(f"{server.url}/old")
    assert response.status_code == 200
    assert [r.path for r in server.requests] == ["/old", "/health"]


def test_it_connects_to_the_checked_address_not_a_second_lookup(
    monkeypatch: pytest.MonkeyPatch, server: FakeServer, connects: list[Any]
) -> None:
    fake_dns(monkeypatch, {"model.internal": ["127.0.0.1"]})
    with make_client(allowed_networks=LOOPBACK) as client:
        response = client.get(f"http://model.internal:{server.port}/health")
    assert response.status_code == 200
    assert connects[0][0] == "127.0.0.1"
    assert server.requests[0].headers["host"] == f"model.internal:{server.port}"


def test_it_reports_an_unresolvable_name_as_a_connection_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, {})
    with (
        make_client(allowed_networks=LOOPBACK) as client,
        pytest.raises(httpx.ConnectError),
    ):
        client.get("http://gone.internal/")


def test_it_times_out_on_a_hanging_server(server: FakeServer) -> None:
    server.hang("/metrics", seconds=5)
    with (
        make_client(allowed_networks=LOOPBACK, timeout=0.2) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.get(f"{server.url}/metrics")


def test_it_refuses_options_that_would_bypass_the_guard() -> None:
    for option in ("transport", "mounts", "proxy"):
        with pytest.raises(TypeError):
            make_client(allowed_networks=LOOPBACK, **{option: None})


def test_it_requires_an_explicit_timeout() -> None:
    with pytest.raises(ValueError):
        make_client(allowed_networks=LOOPBACK, timeout=httpx.Timeout(None))


def test_it_reads_the_allowlist_from_settings_lazily(
    monkeypatch: pytest.MonkeyPatch, server: FakeServer
) -> None:
    conf = types.ModuleType("django.conf")
    conf.settings = types.SimpleNamespace(  # type: ignore[attr-defined]
        ENDPOINT_ALLOWED_NETWORKS=["127.0.0.1/32"]
    )
    monkeypatch.setitem(sys.modules, "django.conf", conf)
    with make_client() as client:
        assert client.get(f"{server.url}/health").status_code == 200
    conf.settings = types.SimpleNamespace(  # type: ignore[attr-defined]
        ENDPOINT_ALLOWED_NETWORKS=[]
    )
    with make_client() as client, pytest.raises(UnsafeURL):
        client.get(f"{server.url}/health")


def test_the_async_client_is_guarded_the_same_way(server: FakeServer) -> None:
    server.redirect("/metrics", location="http://169.254.169.254/")

    async def scenario() -> tuple[int, bool]:
        async with make_async_client(
            allowed_networks=LOOPBACK, follow_redirects=True
        ) as client:
            status = (await client.get(f"{server.url}/health")).status_code
            try:
                await client.get(f"{server.url}/metrics")
            except UnsafeURL:
                return status, True
            return status, False

    assert asyncio.run(scenario()) == (200, True)
