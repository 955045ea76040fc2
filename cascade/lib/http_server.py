"""How `cascade serve` speaks HTTP: uvicorn's h11 protocol with deadlines on each request's head
and body and a size limit on its head, which uvicorn does not have (it waits for the rest of a
half-sent header or body for ever, and h11's limit applies only to a head that arrives in
pieces)."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from django.conf import settings
from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_BYTES = 16 * 1024  # the largest request head accepted
TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: text/plain\r\n"
    b"content-length: 40\r\nconnection: close\r\n\r\nThe request head is larger than 16 KiB.\n"
)


class HeadDeadlineProtocol(H11Protocol):
    """Closes a connection whose request head does not arrive within CASCADE_HEADER_TIMEOUT
    seconds of its first byte (or of the connection's opening), or whose body does not within
    CASCADE_BODY_TIMEOUT seconds of its head; answers 431 to a head over 16 KiB."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._timer: asyncio.TimerHandle | None = None
        self._watched: type[h11._util.Sentinel] | None = None  # h11.IDLE or h11.SEND_BODY
        super().connection_made(transport)
        self._watch()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            head = bytes(self.conn.trailing_data[0]) + data
            end = head.find(b"\r\n\r\n")
            if end > HEAD_BYTES or (end < 0 and len(head) > HEAD_BYTES):
                self._stop_watching()
                self.transport.write(TOO_LARGE)
                self.transport.close()
                return
        super().data_received(data)
        self._watch()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_watching()
        super().connection_lost(exc)

    def _watch(self) -> None:
        """A deadline for the part of the request the client is sending now, if any."""
        state = self.conn.their_state
        waiting = state is h11.IDLE or state is h11.SEND_BODY
        watched = state if waiting and not self.transport.is_closing() else None
        if watched is self._watched:
            return
        self._stop_watching()
        self._watched = watched
        if watched is not None:
            seconds = (
                settings.CASCADE_HEADER_TIMEOUT
                if watched is h11.IDLE
                else settings.CASCADE_BODY_TIMEOUT
            )
            self._timer = self.loop.call_later(seconds, self._late)

    def _stop_watching(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._watched = None

    def _late(self) -> None:
        self._timer = None
        if self.conn.their_state is self._watched and not self.transport.is_closing():
            self.transport.close()


def limits() -> dict[str, Any]:
    """uvicorn's settings for what one client may hold."""
    return {
        "http": HeadDeadlineProtocol,
        "h11_max_incomplete_event_size": HEAD_BYTES,
        "limit_concurrency": settings.CASCADE_MAX_CONNECTIONS,
        "timeout_keep_alive": 5,
    }
