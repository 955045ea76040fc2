"""Which addresses the server may call on a tenant's behalf."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any


def allowed_setting(name: str, value: str | None) -> bool | tuple[str, ...]:
    """An operator's CASCADE_*_ALLOW_PRIVATE: off (public addresses only), on (any address),
    or a comma-separated list of networks allowed besides the public ones
    ("10.0.0.5, 192.168.1.0/24")."""
    text = (value or "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    networks = tuple(part.strip() for part in text.split(",") if part.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise SystemExit(
                f"{name} must be on, off or a list of networks such as 10.0.0.5,192.168.1.0/24; "
                f"{network!r} is none of these"
            ) from None
    return networks


def refusal(address: str, allowed: Any) -> str | None:
    """Why the server will not connect to `address` (None when it may): an internal address
    (private, loopback, link-local, reserved, shared) outside what the operator `allowed`."""
    ip = ipaddress.ip_address(address)
    if allowed is True:
        return None
    inner = _embedded_ipv4(ip)
    if inner is not None and refusal(str(inner), allowed):
        return "a private or internal address"
    if _public(ip, inner):
        return None
    if allowed and any(ip in ipaddress.ip_network(n, strict=False) for n in allowed):
        return None
    return "a private or internal address"


NAT64 = ipaddress.ip_network("64:ff9b::/96")
GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, inner: object) -> bool:
    """Global, not multicast, and for IPv6 a global unicast address (2000::/3) or one that
    leads to a public IPv4 address (checked by the caller): no site-local, IPv4-compatible or
    local-use NAT64 forms that Python still calls global."""
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        return ip in GLOBAL_UNICAST or inner is not None
    return True


def _embedded_ipv4(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one leads to (mapped, 6to4, NAT64, Teredo), whose own kind
    decides: 64:ff9b::a00:5 reaches 10.0.0.5 through a NAT64 gateway."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if int(ip) >> 32 in (0, 0xFFFF0000) and int(ip) > 0xFFFF:  # ::a.b.c.d and ::ffff:0:a.b.c.d
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def internal_address(host: str, port: int | None = None, allowed: Any = False) -> str | None:
    """The first address `host` resolves to that the server may not call, or None when it may
    call all of them. OSError when it does not resolve."""
    for info in socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP):
        address = str(info[4][0]).split("%")[0]
        if refusal(address, allowed):
            return address
    return None
