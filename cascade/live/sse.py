"""What every event-stream endpoint shares: at most CASCADE_STREAMS_PER_USER open streams per
user and process (then 429), no database connection held by a stream, and one gzip stream per
connection, flushed after every event."""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.http import JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase

# Each compressed stream keeps a compressor of about 2**(bits + 2) + 2**(level + 9) bytes: a
# 16 KiB window holds a few updates (each repeats much of the one before) for 128 KiB a viewer.
GZIP_WINDOW_BITS = 14
GZIP_MEMORY_LEVEL = 7

# Event streams each user holds open in this process (the server's event loop is their only
# writer). Beyond CASCADE_STREAMS_PER_USER a new one is refused with 429.
OPEN_STREAMS: Counter[int] = Counter()


def _too_many(user: Any) -> HttpResponseBase | None:
    if OPEN_STREAMS[user.pk] < settings.CASCADE_STREAMS_PER_USER:
        return None
    detail = (
        f"Too many live streams open ({settings.CASCADE_STREAMS_PER_USER}): close other "
        "tabs or connections and try again."
    )
    response = JsonResponse({"detail": detail}, status=429)
    response["Retry-After"] = "10"
    return response


async def _counted(user_id: int, body: AsyncGenerator[str]) -> AsyncGenerator[str]:
    try:
        async with aclosing(body):
            async for chunk in body:
                yield chunk
    finally:
        OPEN_STREAMS[user_id] -= 1
        if OPEN_STREAMS[user_id] <= 0:
            del OPEN_STREAMS[user_id]


async def event_stream(request: Any, body: AsyncGenerator[str], user: Any) -> HttpResponseBase:
    # The set-up's queries ran in this request's own thread, whose database connection would
    # otherwise stay open as long as the stream: on PostgreSQL 200 viewers held 200 connections
    # and the server refused more clients. The stream reads through the watchers.
    await sync_to_async(connections.close_all)()
    refused = _too_many(user)
    if refused is not None:
        return refused
    OPEN_STREAMS[user.pk] += 1
    counted = _counted(user.pk, body)
    gzip = "gzip" in request.headers.get("Accept-Encoding", "")
    chunks = _gzipped(counted) if gzip else counted
    response = StreamingHttpResponse(chunks, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    response["Vary"] = "Accept-Encoding"
    if gzip:
        response["Content-Encoding"] = "gzip"
    return response


async def _gzipped(body: AsyncGenerator[str]) -> AsyncGenerator[bytes]:
    """One gzip stream for the whole connection, flushed after every event: an update repeats
    much of the one before it, which the compressor's window still holds."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + GZIP_WINDOW_BITS, GZIP_MEMORY_LEVEL)
    async with aclosing(body):
        async for chunk in body:
            yield compressor.compress(chunk.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
