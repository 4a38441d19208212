"""Special-purpose IP address blocks, written out from the IANA registries.

The SSRF guard in :mod:`apps.core.http` judges addresses against these tables, not
against the interpreter's ``ipaddress`` flags: those flags change between Python
releases (CPython before 3.11.10 / 3.12.4 called ``fec0::/10`` and ``192.0.0.8``
global; fixed for CVE-2024-4032), so the guard's answer must not depend on them.

Sources (each entry names its RFC, as the registries do):

- IANA IPv4 Special-Purpose Address Registry,
  https://www.iana.org/assignments/iana-ipv4-special-registry/
- IANA IPv6 Special-Purpose Address Registry,
  https://www.iana.org/assignments/iana-ipv6-special-registry/
- IANA IPv4 Multicast Address Space Registry (224.0.0.0/4, RFC 5771) and
  IPv6 Multicast Address Space Registry (ff00::/8, RFC 4291),
  https://www.iana.org/assignments/multicast-addresses/ and
  https://www.iana.org/assignments/ipv6-multicast-addresses/
- IANA Internet Protocol Version 6 Address Space, for what lies outside global
  unicast (2000::/3) and for the deprecated site-local block fec0::/10 (RFC 3879),
  https://www.iana.org/assignments/ipv6-address-space/

Every block is refused, whatever the allow-list says, except the few whose purpose
is to number a site's own hosts (``INTERNAL``): loopback, RFC 1918 private use,
RFC 6598 shared address space and RFC 4193 unique-local. Those are where in-house
model servers live, so the allow-list (``ENDPOINT_ALLOWED_NETWORKS``) may open them.
Blocks the registries mark globally reachable (protocol anycast addresses such as
192.0.0.9 or 2001:1::1) are refused too: no serving endpoint lives there.

Blocks that embed an IPv4 address (IPv4-mapped ``::ffff:0:0/96``, NAT64
``64:ff9b::/96``, 6to4 ``2002::/16``) are not listed here: the guard judges them
as the IPv4 address they reach.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "GLOBAL_UNICAST_V6",
    "SPECIAL_PURPOSE_BLOCKS",
    "Block",
    "Disposition",
    "special_purpose_block",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Disposition(StrEnum):
    """What the guard does with an address in a block."""

    #: Refused whatever the allow-list says.
    NEVER = "never"
    #: Refused unless inside one of the allowed networks.
    INTERNAL = "internal"


@dataclass(frozen=True)
class Block:
    """One registry entry: a network, its registry name and the RFC behind it."""

    network: IPNetwork
    name: str
    rfc: str
    disposition: Disposition = Disposition.NEVER

    def describe(self) -> str:
        return f"{self.name} ({self.network}, {self.rfc})"


def _block(
    cidr: str, name: str, rfc: str, disposition: Disposition = Disposition.NEVER
) -> Block:
    return Block(ipaddress.ip_network(cidr), name, rfc, disposition)


_INTERNAL = Disposition.INTERNAL

_IPV4 = (
    _block("0.0.0.0/32", '"This host on this network"', "RFC 1122"),
    _block("192.0.0.8/32", "IPv4 dummy address", "RFC 7600"),
    _block("192.0.0.9/32", "Port Control Protocol Anycast", "RFC 7723"),
    _block("192.0.0.10/32", "Traversal Using Relays around NAT Anycast", "RFC 8155"),
    _block("192.0.0.170/32", "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050"),
    _block("192.0.0.171/32", "NAT64/DNS64 Discovery", "RFC 8880, RFC 7050"),
    _block("192.88.99.2/32", "6a44-relay anycast address", "RFC 6751"),
    _block("255.255.255.255/32", "Limited Broadcast", "RFC 8190, RFC 919"),
    _block("192.0.0.0/29", "IPv4 Service Continuity Prefix", "RFC 7335"),
    _block("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890"),
    _block("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737"),
    _block("192.31.196.0/24", "AS112-v4", "RFC 7535"),
    _block("192.52.193.0/24", "AMT", "RFC 7450"),
    _block("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526"),
    _block("192.175.48.0/24", "Direct Delegation AS112 Service", "RFC 7534"),
    _block("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737"),
    _block("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737"),
    _block("169.254.0.0/16", "Link Local", "RFC 3927"),
    _block("192.168.0.0/16", "Private-Use", "RFC 1918", _INTERNAL),
    _block("198.18.0.0/15", "Benchmarking", "RFC 2544"),
    _block("172.16.0.0/12", "Private-Use", "RFC 1918", _INTERNAL),
    _block("100.64.0.0/10", "Shared Address Space", "RFC 6598", _INTERNAL),
    _block("0.0.0.0/8", '"This network"', "RFC 791"),
    _block("10.0.0.0/8", "Private-Use", "RFC 1918", _INTERNAL),
    _block("127.0.0.0/8", "Loopback", "RFC 1122", _INTERNAL),
    _block("224.0.0.0/4", "Multicast", "RFC 5771"),
    _block("240.0.0.0/4", "Reserved", "RFC 1112"),
)

_IPV6 = (
    _block("::/128", "Unspecified Address", "RFC 4291"),
    _block("::1/128", "Loopback Address", "RFC 4291", _INTERNAL),
    _block("2001:1::1/128", "Port Control Protocol Anycast", "RFC 7723"),
    _block("2001:1::2/128", "Traversal Using Relays around NAT Anycast", "RFC 8155"),
    _block("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast", "RFC 9665"),
    _block("100::/64", "Discard-Only Address Block", "RFC 6666"),
    _block("100:0:0:1::/64", "Dummy IPv6 Prefix", "RFC 9780"),
    _block("64:ff9b:1::/48", "IPv4-IPv6 Translation (local use)", "RFC 8215"),
    _block("2001:2::/48", "Benchmarking", "RFC 5180"),
    _block("2001:4:112::/48", "AS112-v6", "RFC 7535"),
    _block("2620:4f:8000::/48", "Direct Delegation AS112 Service", "RFC 7534"),
    _block("2001::/32", "TEREDO", "RFC 4380, RFC 8190"),
    _block("2001:3::/32", "AMT", "RFC 7450"),
    _block("2001:db8::/32", "Documentation", "RFC 3849"),
    _block("2001:10::/28", "Deprecated (previously ORCHID)", "RFC 4843"),
    _block("2001:20::/28", "ORCHIDv2", "RFC 7343"),
    _block("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs)", "RFC 9374"),
    _block("2001::/23", "IETF Protocol Assignments", "RFC 2928"),
    _block("3fff::/20", "Documentation", "RFC 9637"),
    _block("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602"),
    _block("fe80::/10", "Link-Local Unicast", "RFC 4291"),
    _block("fec0::/10", "Site-Local (deprecated)", "RFC 3879"),
    _block("ff00::/8", "Multicast", "RFC 4291"),
    _block("fc00::/7", "Unique-Local", "RFC 4193, RFC 8190", _INTERNAL),
)


def _most_specific_first(blocks: tuple[Block, ...]) -> tuple[Block, ...]:
    # So a lookup names the narrowest entry: 192.0.0.8 is the "IPv4 dummy
    # address", not just one of the "IETF Protocol Assignments".
    return tuple(sorted(blocks, key=lambda block: -block.network.prefixlen))


_IPV4 = _most_specific_first(_IPV4)
_IPV6 = _most_specific_first(_IPV6)

#: Every listed block, most specific first within each family.
SPECIAL_PURPOSE_BLOCKS: tuple[Block, ...] = _IPV4 + _IPV6

#: IANA allocates IPv6 unicast only from here; the rest is reserved by the IETF.
GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")


def special_purpose_block(address: IPAddress) -> Block | None:
    """The most specific registry block holding ``address``, or None."""
    blocks = _IPV4 if address.version == 4 else _IPV6
    for block in blocks:
        if address in block.network:
            return block
    return None
