"""Calls the server makes to addresses a tenant chose (WordPress, webhooks).

Every connection is checked where it is made: the name is resolved once, every address it
resolves to is checked, and the connection goes to the address that was checked (no second
lookup a DNS rebinding could answer differently). So a redirect is checked again like any other
connection. An answer is read up to CASCADE_OUTBOUND_MAX_BYTES, and the whole call (connecting,
sending, every redirect and the answer) has one deadline, however slowly a receiver drips bytes.
Answers are asked for, and taken, uncompressed only: the size counted is the size read. No
proxy from the environment is used: the check must see the address actually called."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import certifi
import httpcore
import httpx
from django.conf import settings

from cascade.lib.net import refusal

_local = threading.local()  # the deadline of the call this thread is making


class AnswerTooLarge(httpx.HTTPError):
    """The answer ran past the size this server reads from a receiver."""


class AnswerCompressed(httpx.HTTPError):
    """The answer came compressed though none was asked for (its size would be counted before
    it is unpacked, and a small answer can unpack to gigabytes)."""


def _left(timeout: float | None) -> float | None:
    """The time an I/O step may take: its own timeout, cut to what is left of the call's."""
    deadline = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the call ran out of time")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """A connection whose every read and write stays within the call's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _left(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self.inner.start_tls(ssl_context, server_hostname, _left(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _Backend(httpcore.SyncBackend):
    """Connects only to addresses `allowed` lets through, to the very address it checked."""

    def __init__(self, allowed: Any) -> None:
        self.allowed = allowed

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise httpcore.ConnectError(f"{host} could not be resolved") from None
        addresses = [str(info[4][0]).split("%")[0] for info in found]
        for address in addresses:
            why = refusal(address, self.allowed)
            if why:
                raise httpcore.ConnectError(f"{host} resolves to {address}, {why}")
        stream = super().connect_tcp(
            addresses[0], port, _left(timeout), local_address, socket_options
        )
        return _Stream(stream)


class _Capped(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, limit: int) -> None:
        self.inner, self.limit = inner, limit

    def __iter__(self) -> Iterator[bytes]:
        taken = 0
        for chunk in self.inner:
            taken += len(chunk)
            if taken > self.limit:
                raise AnswerTooLarge(f"the answer is larger than {self.limit / 2**20:g} MiB")
            yield chunk

    def close(self) -> None:
        self.inner.close()


class _Transport(httpx.HTTPTransport):
    def __init__(self, allowed: Any, limit: int) -> None:
        super().__init__(trust_env=False)
        self.limit = limit
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            max_connections=4,
            network_backend=_Backend(allowed),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["Accept-Encoding"] = "identity"
        response = super().handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            response.stream.close()
            raise AnswerCompressed(f"the answer came compressed ({encoding}), unasked")
        response.stream = _Capped(response.stream, self.limit)
        return response


class Client(httpx.Client):
    """An httpx client for a tenant's addresses. `allowed` is the operator's setting for
    internal addresses (False: public ones only; True: any; or a list of networks); `deadline`
    bounds each call as a whole, in seconds."""

    def __init__(self, allowed: Any, deadline: float, **kwargs: Any) -> None:
        limit = settings.CASCADE_OUTBOUND_MAX_BYTES
        timeout = kwargs.pop("timeout", min(deadline, 30.0))
        super().__init__(
            transport=_Transport(allowed, limit),
            trust_env=False,
            max_redirects=5,
            timeout=timeout,
            **kwargs,
        )
        self.deadline = deadline

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        outer = getattr(_local, "deadline", None) is None
        if outer:
            _local.deadline = time.monotonic() + self.deadline
        try:
            return super().send(request, **kwargs)
        except httpx.TimeoutException as exc:
            if time.monotonic() >= _local.deadline:
                raise httpx.ReadTimeout(
                    f"no complete answer within {self.deadline:g} s", request=request
                ) from None
            raise exc
        finally:
            if outer:
                _local.deadline = None
