"""Which addresses the server may call on a tenant's behalf."""

from __future__ import annotations

import ipaddress
import socket


def internal_address(host: str, port: int | None = None) -> str | None:
    """The first address `host` resolves to that is not a public one (private, loopback,
    link-local, reserved, shared), or None when all are public. OSError when it does not
    resolve."""
    for info in socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP):
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            return str(address)
    return None
