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
    if ip.is_global or allowed is True:
        return None
    if allowed and any(ip in ipaddress.ip_network(n, strict=False) for n in allowed):
        return None
    return "a private or internal address"


def internal_address(host: str, port: int | None = None, allowed: Any = False) -> str | None:
    """The first address `host` resolves to that the server may not call, or None when it may
    call all of them. OSError when it does not resolve."""
    for info in socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP):
        address = str(info[4][0]).split("%")[0]
        if refusal(address, allowed):
            return address
    return None
