"""Issue 13, finding 10: the SSRF guard judges addresses by explicit IANA
special-purpose tables, not by the interpreter's ``ipaddress`` flags (Python
3.11.7 calls ``fec0::/10`` and ``192.0.0.8`` global), and the allow-list can open
only the blocks meant for a site's own hosts."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from apps.core.http import UnsafeURL, check_url, make_async_client, make_client
from tests.servers import FakeServer

EVERYTHING = ["0.0.0.0/0", "::/0"]

# One or more addresses from each entry of the IANA IPv4 and IPv6 special-purpose
# registries (plus multicast, site-local and non-global-unicast IPv6), written
# out here from the registries, not from the module under test.
NEVER_ALLOWED = [
    "0.0.0.0",
    "0.1.2.3",  # "This network", RFC 791
    "169.254.0.1",  # link local, RFC 3927
    "192.0.0.1",  # IPv4 service continuity prefix, RFC 7335
    "192.0.0.8",  # IPv4 dummy address, RFC 7600 (global to Python 3.11.7)
    "192.0.0.9",  # PCP anycast, RFC 7723
    "192.0.0.10",  # TURN anycast, RFC 8155
    "192.0.0.170",  # NAT64/DNS64 discovery, RFC 8880
    "192.0.0.200",  # IETF protocol assignments, RFC 6890
    "192.0.2.1",  # TEST-NET-1, RFC 5737
    "192.31.196.1",  # AS112-v4, RFC 7535
    "192.52.193.1",  # AMT, RFC 7450
    "192.88.99.1",  # 6to4 relay anycast (deprecated), RFC 7526
    "192.175.48.1",  # AS112 direct delegation, RFC 7534
    "198.18.0.1",  # benchmarking, RFC 2544
    "198.19.255.254",
    "198.51.100.1",  # TEST-NET-2
    "203.0.113.1",  # TEST-NET-3
    "224.0.0.1",  # multicast, RFC 5771
    "239.255.255.250",
    "240.0.0.1",  # reserved, RFC 1112
    "255.255.255.255",  # limited broadcast, RFC 919
    "::",  # unspecified, RFC 4291
    "::a9fe:a9fe",  # IPv4-compatible (deprecated): outside 2000::/3
    "64:ff9b:1::1",  # local-use IPv4/IPv6 translation, RFC 8215
    "100::1",  # discard-only, RFC 6666
    "2001::1",  # Teredo, RFC 4380
    "2001:1::1",  # PCP anycast, RFC 7723
    "2001:2::1",  # benchmarking, RFC 5180
    "2001:3::1",  # AMT, RFC 7450
    "2001:4:112::1",  # AS112-v6, RFC 7535
    "2001:10::1",  # ORCHID (deprecated), RFC 4843
    "2001:20::1",  # ORCHIDv2, RFC 7343
    "2001:db8::1",  # documentation, RFC 3849
    "2620:4f:8000::1",  # AS112 direct delegation, RFC 7534
    "3fff::1",  # documentation, RFC 9637
    "5f00::1",  # SRv6 SIDs, RFC 9602
    "fe80::1",  # link-local, RFC 4291
    "fec0::1",  # site-local (deprecated), RFC 3879 (global to Python 3.11.7)
    "ff02::1",  # multicast
    "4000::1",  # reserved by the IETF (outside global unicast)
    # Cloud metadata, also through IPv6 forms that reach it.
    "169.254.169.254",
    "::ffff:169.254.169.254",
    "::ffff:a9fe:a9fe",
    "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address
    "2002:a9fe:a9fe::1",  # 6to4 of it
    "fd00:ec2::254",
    "100.100.100.200",
]

INTERNAL = [
    "127.0.0.1",
    "127.8.9.10",
    "::1",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.1.1",
    "100.64.0.1",  # shared address space, RFC 6598
    "100.127.255.254",
    "fd12:3456::1",  # unique-local, RFC 4193
    "::ffff:10.1.2.3",
    "64:ff9b::a01:203",  # NAT64 of 10.1.2.3
]

# 169.254.169.254 in the inet_aton spellings: all octal (httpx cannot parse it),
# and the shorter forms httpx passes on as host names.
METADATA_SPELLINGS = [
    "0251.0376.0251.0376",
    "0251.0376.43518",
    "169.254.43518",
    "025177524776",
    "2852039166",
    "0xa9fea9fe",
    "0xa9.0xfe.0xa9.0xfe",
    "0251.254.0xa9.0376",
]


def url_of(address: str) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:8000/v1/models"


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


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with FakeServer() as server:
        yield server


@pytest.mark.parametrize("address", NEVER_ALLOWED)
def test_it_refuses_special_purpose_addresses_whatever_the_allow_list(
    address: str,
) -> None:
    with pytest.raises(UnsafeURL):
        check_url(url_of(address), allowed_networks=[])
    with pytest.raises(UnsafeURL):
        check_url(url_of(address), allowed_networks=EVERYTHING)


@pytest.mark.parametrize("address", ["fec0::1", "192.0.0.8"])
def test_it_names_the_registry_entry_python_3_11_7_calls_global(
    address: str,
) -> None:
    with pytest.raises(UnsafeURL, match=r"special-purpose: .*RFC"):
        check_url(url_of(address), allowed_networks=EVERYTHING)


@pytest.mark.parametrize("address", INTERNAL)
def test_it_refuses_internal_addresses_outside_the_allow_list(address: str) -> None:
    with pytest.raises(UnsafeURL, match="not in the allowed networks"):
        check_url(url_of(address), allowed_networks=[])


@pytest.mark.parametrize("address", INTERNAL)
def test_the_allow_list_opens_internal_addresses(address: str) -> None:
    check_url(url_of(address), allowed_networks=EVERYTHING)


def test_the_allow_list_opens_only_the_internal_networks_it_names() -> None:
    allowed = ["100.64.0.0/10"]
    check_url(url_of("100.64.0.1"), allowed_networks=allowed)
    with pytest.raises(UnsafeURL):
        check_url(url_of("10.0.0.1"), allowed_networks=allowed)
    with pytest.raises(UnsafeURL):
        check_url(url_of("127.0.0.1"), allowed_networks=allowed)


def test_naming_a_special_purpose_block_in_the_allow_list_does_not_open_it() -> None:
    for network, address in [
        ("198.18.0.0/15", "198.18.0.1"),
        ("192.0.0.0/24", "192.0.0.8"),
        ("fec0::/10", "fec0::1"),
        ("2001:db8::/32", "2001:db8::1"),
        ("169.254.0.0/16", "169.254.169.254"),
    ]:
        with pytest.raises(UnsafeURL):
            check_url(url_of(address), allowed_networks=[network])


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"]
)
def test_it_allows_public_addresses(address: str) -> None:
    check_url(url_of(address), allowed_networks=[])


@pytest.mark.parametrize("spelling", METADATA_SPELLINGS)
def test_it_refuses_every_spelling_of_the_metadata_address(spelling: str) -> None:
    with pytest.raises(UnsafeURL):
        check_url(f"http://{spelling}/latest/meta-data/", allowed_networks=EVERYTHING)


@pytest.mark.parametrize("spelling", METADATA_SPELLINGS)
def test_the_client_refuses_every_spelling_of_the_metadata_address_without_connecting(
    spelling: str, connects: list[Any]
) -> None:
    with (
        make_client(allowed_networks=EVERYTHING, timeout=2) as client,
        pytest.raises(UnsafeURL),
    ):
        client.get(f"http://{spelling}/latest/meta-data/")
    assert connects == []


@pytest.mark.parametrize(
    "address", ["fec0::1", "192.0.0.8", "198.18.0.1", "2001:db8::1", "100.64.0.1"]
)
def test_the_client_refuses_them_at_connect_time_without_connecting(
    address: str, connects: list[Any]
) -> None:
    with (
        make_client(allowed_networks=["127.0.0.0/8"], timeout=2) as client,
        pytest.raises(UnsafeURL),
    ):
        client.get(url_of(address))
    assert connects == []


def test_a_name_resolving_to_a_special_purpose_address_is_refused_at_connect_time(
    monkeypatch: pytest.MonkeyPatch, connects: list[Any]
) -> None:
    def getaddrinfo(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        assert host == "models.internal.example"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.0.8", port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    with (
        make_client(allowed_networks=EVERYTHING, timeout=2) as client,
        pytest.raises(UnsafeURL, match=r"192\.0\.0\.8 is special-purpose"),
    ):
        client.get("http://models.internal.example/v1/models")
    assert connects == []


def test_the_verdict_does_not_depend_on_the_interpreters_address_flags(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Even an interpreter that called every address global, never private,
    reserved, loopback or link-local gets the same answers."""
    for cls in (ipaddress.IPv4Address, ipaddress.IPv6Address):
        monkeypatch.setattr(cls, "is_global", property(lambda self: True))
        for flag in (
            "is_private",
            "is_reserved",
            "is_loopback",
            "is_link_local",
            "is_multicast",
            "is_unspecified",
        ):
            monkeypatch.setattr(cls, flag, property(lambda self: False))
    monkeypatch.setattr(
        ipaddress.IPv6Address, "is_site_local", property(lambda self: False)
    )
    for address in ["192.0.0.8", "fec0::1", "169.254.1.1", "127.0.0.1", "10.0.0.1"]:
        with pytest.raises(UnsafeURL):
            check_url(url_of(address), allowed_networks=[])
    check_url(url_of("127.0.0.1"), allowed_networks=["127.0.0.0/8"])


def test_an_allowed_loopback_server_is_still_reached(server: FakeServer) -> None:
    server.json("/v1/models", {"data": []})
    with make_client(allowed_networks=["127.0.0.0/8"], timeout=2) as client:
        assert client.get(f"{server.url}/v1/models").json() == {"data": []}


def test_the_async_client_refuses_special_purpose_addresses_too(
    connects: list[Any],
) -> None:
    import asyncio

    async def go() -> None:
        async with make_async_client(allowed_networks=EVERYTHING, timeout=2) as client:
            with pytest.raises(UnsafeURL):
                await client.get(url_of("fec0::1"))
            with pytest.raises(UnsafeURL):
                await client.get("http://0251.0376.0251.0376/")

    asyncio.run(go())
    assert connects == []
