"""Outbound HTTP for user-registered URLs: an SSRF guard and client factories.

Serving endpoints are internal by design, so blocking every private address cannot
work. Instead (GitLab's allowlist mode, Sentry's connect-time check):

- only ``http`` and ``https``; no credentials in the URL (httpx would turn them
  into an ``Authorization: Basic`` header), no backslash or whitespace (parsers
  disagree on where such a URL's host is);
- every address the host resolves to is checked, and one bad address refuses the
  whole host (a name that does not resolve is refused too);
- addresses are judged against explicit tables of the IANA special-purpose
  registries (:mod:`apps.core.addresses`), never the interpreter's ``ipaddress``
  flags, which differ between Python releases;
- cloud metadata addresses and every special-purpose block (link-local,
  unspecified, multicast, reserved, documentation, benchmarking, protocol
  assignments, deprecated site-local …) are always refused, whatever the
  allowlist says; so is IPv6 outside global unicast (2000::/3);
- loopback, private-use, shared (RFC 6598) and unique-local addresses (and their
  IPv4-mapped, NAT64 and 6to4 IPv6 forms) are refused unless inside one of the
  allowed networks (CIDR strings, ``settings.ENDPOINT_ALLOWED_NETWORKS`` by
  default);
- every other address is public and allowed.

The clients from :func:`make_client` and :func:`make_async_client` check again at
connect time, on every connection (so every redirect hop too), and connect to the
checked address itself rather than resolving twice, which closes the DNS-rebinding
gap between check and use. They refuse a request whose URL carries credentials
or cannot be parsed with :class:`UnsafeURL` (not httpx's ``InvalidURL``), so a bad
stored URL fails like any refused one. Environment proxies are ignored, since a
proxy would make the connect-time check see the proxy instead of the target.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import anyio
import httpcore
import httpx

from apps.core.addresses import GLOBAL_UNICAST_V6, Disposition, special_purpose_block

__all__ = [
    "ALWAYS_REFUSED_ADDRESSES",
    "DEFAULT_LIMITS",
    "AsyncGuardedClient",
    "AsyncGuardedTransport",
    "GuardedClient",
    "GuardedTransport",
    "UnsafeURL",
    "check_url",
    "check_url_form",
    "make_async_client",
    "make_client",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
SocketOption = tuple[int, int, int] | tuple[int, int, bytes | bytearray]

# Cloud metadata services outside 169.254/16, which is refused as link-local anyway.
ALWAYS_REFUSED_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "fd00:ec2::23",  # AWS DNS over IPv6 (Nitro)
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (legacy)
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_HOST = re.compile(r"^[0-9a-fA-FxX.]+$")
_AMBIGUOUS = re.compile(r"[\\\s\x00-\x1f\x7f]")
_DEFAULT_CONNECT_TIMEOUT = 5.0
#: httpx's own defaults (``httpx.Limits()`` alone would mean unlimited).
DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class UnsafeURL(ValueError):
    """A URL the portal refuses to call: wrong scheme, or a refused address."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def check_url(url: str, *, allowed_networks: Sequence[str]) -> None:
    """Raise :class:`UnsafeURL` unless ``url`` may be called.

    Used when an endpoint is saved; the clients repeat the check at connect time.
    """
    host, port = _split_url(url)
    _resolve_checked(host, port, _parse_networks(tuple(allowed_networks)))


def check_url_form(url: str) -> None:
    """Raise :class:`UnsafeURL` unless ``url`` is well formed: the checks of
    :func:`check_url` that need no name lookup (scheme, host, no credentials).

    Cheap enough for every save of a model that stores a URL.
    """
    _split_url(url)


def make_client(
    *,
    allowed_networks: Sequence[str] | None = None,
    timeout: float | httpx.Timeout = 10.0,
    **kwargs: Any,
) -> httpx.Client:
    """Return an ``httpx.Client`` whose every connection passes the SSRF guard.

    ``kwargs`` go to ``httpx.Client`` (``headers``, ``follow_redirects``,
    ``base_url`` …), except ``verify``, ``limits`` and ``http2``, which configure
    the guarded transport. ``transport``, ``mounts`` and ``proxy`` are refused:
    they would bypass the guard.
    """
    networks = _networks_or_settings(allowed_networks)
    transport_kwargs = _pop_transport_kwargs(kwargs)
    transport = GuardedTransport(allowed_networks=networks, **transport_kwargs)
    return GuardedClient(
        transport=transport,
        timeout=_timeout(timeout),
        trust_env=False,
        **kwargs,
    )


def make_async_client(
    *,
    allowed_networks: Sequence[str] | None = None,
    timeout: float | httpx.Timeout = 10.0,
    **kwargs: Any,
) -> httpx.AsyncClient:
    """Return an ``httpx.AsyncClient`` guarded like :func:`make_client`."""
    networks = _networks_or_settings(allowed_networks)
    transport_kwargs = _pop_transport_kwargs(kwargs)
    transport = AsyncGuardedTransport(allowed_networks=networks, **transport_kwargs)
    return AsyncGuardedClient(
        transport=transport,
        timeout=_timeout(timeout),
        trust_env=False,
        **kwargs,
    )


def _pool_options(*, verify: Any, limits: httpx.Limits, http2: bool) -> dict[str, Any]:
    """What the sync and async guarded pools share (all but the network backend)."""
    return {
        "ssl_context": httpx.create_ssl_context(verify=verify, trust_env=False),
        "max_connections": limits.max_connections,
        "max_keepalive_connections": limits.max_keepalive_connections,
        "keepalive_expiry": limits.keepalive_expiry,
        "http1": True,
        "http2": http2,
    }


class GuardedClient(httpx.Client):
    """An ``httpx.Client`` that refuses unparseable or credentialed URLs.

    httpx raises ``InvalidURL``, which is not an ``httpx.HTTPError``, for a URL it
    cannot parse (``http://0251.0376.0251.0376/``), and sends a URL's userinfo as
    Basic credentials. Both become :class:`UnsafeURL` here, before any auth is
    built or any connection made.
    """

    def build_request(self, method: str, url: Any, **kwargs: Any) -> httpx.Request:
        return _checked_request(super().build_request, method, url, **kwargs)


class AsyncGuardedClient(httpx.AsyncClient):
    """The asynchronous twin of :class:`GuardedClient`."""

    def build_request(self, method: str, url: Any, **kwargs: Any) -> httpx.Request:
        return _checked_request(super().build_request, method, url, **kwargs)


def _checked_request(build: Any, method: str, url: Any, **kwargs: Any) -> httpx.Request:
    try:
        request: httpx.Request = build(method, url, **kwargs)
    except httpx.InvalidURL as exc:
        raise UnsafeURL(f"Not a valid URL: {exc}.") from None
    _check_request_url(request.url)
    return request


class GuardedTransport(httpx.HTTPTransport):
    """An ``httpx.HTTPTransport`` that checks each request and each connection."""

    def __init__(
        self,
        *,
        allowed_networks: Sequence[str],
        verify: Any = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
        http2: bool = False,
    ) -> None:
        # The parent's __init__ is skipped on purpose: it would only build an
        # unguarded pool (and an SSL context) to be thrown away.
        self._networks = _parse_networks(tuple(allowed_networks))
        self._pool = httpcore.ConnectionPool(
            network_backend=_GuardedBackend(self._networks),
            **_pool_options(verify=verify, limits=limits, http2=http2),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        _check_request_url(request.url)
        return super().handle_request(request)


class AsyncGuardedTransport(httpx.AsyncHTTPTransport):
    """The asynchronous twin of :class:`GuardedTransport`."""

    def __init__(
        self,
        *,
        allowed_networks: Sequence[str],
        verify: Any = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
        http2: bool = False,
    ) -> None:
        # The parent's __init__ is skipped, as in GuardedTransport.
        self._networks = _parse_networks(tuple(allowed_networks))
        self._pool = httpcore.AsyncConnectionPool(
            network_backend=_AsyncGuardedBackend(self._networks),
            **_pool_options(verify=verify, limits=limits, http2=http2),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        _check_request_url(request.url)
        return await super().handle_async_request(request)


_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "http_deadline", default=None
)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Bound every socket read and write of this thread's requests to ``seconds``
    from now, in all: httpx limits each read only, so a server trickling its
    status line and headers a byte at a time could otherwise hold a caller
    forever. Past it, reads raise ``httpx.ReadTimeout``."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _clip(timeout: float | None) -> float | None:
    expires = _deadline.get()
    if expires is None:
        return timeout
    left = expires - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("The request's deadline has passed.")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose reads and writes stop at the caller's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _clip(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _clip(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, _clip(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves, checks every address, then connects to a checked address."""

    def __init__(self, networks: tuple[IPNetwork, ...]) -> None:
        self._networks = networks
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = _resolve_checked(host, port, self._networks, connecting=True)
        error: Exception | None = None
        for address in addresses:
            try:
                return _DeadlineStream(
                    self._backend.connect_tcp(
                        str(address),
                        port,
                        timeout=_clip(timeout),
                        local_address=local_address,
                        socket_options=socket_options,
                    )
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None  # _resolve_checked never returns an empty list
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        raise UnsafeURL("Unix sockets are not allowed.")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _AsyncGuardedBackend(httpcore.AsyncNetworkBackend):
    """Asynchronous :class:`_GuardedBackend`; resolves without blocking the loop."""

    def __init__(self, networks: tuple[IPNetwork, ...]) -> None:
        self._networks = networks
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await anyio.to_thread.run_sync(
            functools.partial(
                _resolve_checked, host, port, self._networks, connecting=True
            )
        )
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise UnsafeURL("Unix sockets are not allowed.")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


def _split_url(url: str) -> tuple[str, int]:
    if not isinstance(url, str):
        raise UnsafeURL("Not a valid URL.")
    if _AMBIGUOUS.search(url):
        # ``http://169.254.169.254\@127.0.0.1/``: a browser reads the first host,
        # httpx the second; spaces and control characters are as ambiguous.
        raise UnsafeURL("Backslashes, spaces and control characters are not allowed.")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise UnsafeURL(f"Not a valid URL: {exc}.") from None
    _check_request_url(parsed)
    host = parsed.raw_host.decode("ascii")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return host, port


def _check_request_url(url: httpx.URL) -> None:
    """The checks every request repeats, whatever URL was stored."""
    if url.scheme not in ("http", "https"):
        raise UnsafeURL(f"Only http and https URLs are allowed, not {url.scheme!r}.")
    if not url.raw_host:
        raise UnsafeURL("The URL has no host.")
    if url.userinfo:
        raise UnsafeURL("Credentials in the URL are not allowed.")
    if url.port is not None and not 0 < url.port < 65536:
        raise UnsafeURL(f"Port {url.port} is out of range.")


def _resolve_checked(
    host: str,
    port: int,
    networks: tuple[IPNetwork, ...],
    *,
    connecting: bool = False,
) -> list[IPAddress]:
    """Resolve ``host`` and return its addresses, or raise if any is refused."""
    addresses = _resolve(host, port, connecting=connecting)
    for address in addresses:
        reason = _refusal(address, networks)
        if reason is not None:
            raise UnsafeURL(f"Refused {host!r}: {reason}.")
    return addresses


def _resolve(host: str, port: int, *, connecting: bool) -> list[IPAddress]:
    literal = _literal_address(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        if connecting:
            # Let the client report an ordinary, retryable connection error.
            raise httpcore.ConnectError(f"Could not resolve {host!r}.") from None
        raise UnsafeURL(f"Could not resolve {host!r}.") from None
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeURL(f"Could not resolve {host!r}.")
    return addresses


def _literal_address(host: str) -> IPAddress | None:
    """Parse IP literals, including inet_aton forms (``0x7f.1``, ``2130706433``).

    Done here rather than left to the resolver, so the answer does not depend on
    which libc the portal runs on.
    """
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _NUMERIC_HOST.match(host) and not host.endswith("."):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _refusal(address: IPAddress, networks: tuple[IPNetwork, ...]) -> str | None:
    """Why ``address`` is refused, or None when it may be called.

    The deny tables come first; the allowed networks can open only the blocks
    meant for a site's own hosts (loopback, private-use, shared, unique-local).
    """
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        # An IPv6 address that reaches an IPv4 one is judged as that IPv4 address.
        return _refusal(embedded, networks)
    if address in ALWAYS_REFUSED_ADDRESSES:
        return f"{address} is a cloud metadata address"
    block = special_purpose_block(address)
    if block is None:
        if address.version == 6 and address not in GLOBAL_UNICAST_V6:
            return f"{address} is outside IPv6 global unicast ({GLOBAL_UNICAST_V6})"
        return None
    if block.disposition is Disposition.INTERNAL:
        if _in_networks(address, networks):
            return None
        return (
            f"{address} is {block.name.lower()} ({block.network}, {block.rfc}) "
            "and not in the allowed networks"
        )
    return f"{address} is special-purpose: {block.describe()}"


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _in_networks(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(
        address.version == network.version and address in network
        for network in networks
    )


@functools.lru_cache(maxsize=32)
def _parse_networks(networks: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    parsed: list[IPNetwork] = []
    for network in networks:
        try:
            parsed.append(ipaddress.ip_network(network.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"Invalid allowed network {network!r}: {exc}") from None
    return tuple(parsed)


def _networks_or_settings(allowed_networks: Sequence[str] | None) -> tuple[str, ...]:
    if allowed_networks is not None:
        return tuple(allowed_networks)
    from django.conf import settings

    return tuple(getattr(settings, "ENDPOINT_ALLOWED_NETWORKS", ()))


def _pop_transport_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    for forbidden in ("transport", "mounts", "proxy", "trust_env", "app"):
        if forbidden in kwargs:
            raise TypeError(f"{forbidden!r} would bypass the SSRF guard.")
    return {
        name: kwargs.pop(name)
        for name in ("verify", "limits", "http2")
        if name in kwargs
    }


def _timeout(timeout: float | httpx.Timeout) -> httpx.Timeout:
    if isinstance(timeout, httpx.Timeout):
        if None in (timeout.connect, timeout.read, timeout.write, timeout.pool):
            raise ValueError("Every timeout must be set explicitly.")
        return timeout
    if timeout is None or timeout <= 0:
        raise ValueError("A positive timeout is required.")
    return httpx.Timeout(timeout, connect=min(timeout, _DEFAULT_CONNECT_TIMEOUT))
