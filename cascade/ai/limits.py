"""Request limits of an AI provider: at most CASCADE_AI_RPM requests and CASCADE_AI_TPM tokens
in any sliding window of CASCADE_AI_RATE_WINDOW seconds, counted once for every process that
sends with the same key (three workers share one limit, not three): in Redis when the work runs
on Celery, in the database with the embedded worker."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
import zlib
from datetime import timedelta
from typing import Any, Protocol

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min, Sum
from django.utils import timezone

log = logging.getLogger("cascade.ai")


class Store(Protocol):
    def take(self, bucket: str, rpm: int, tpm: int, tokens: int, window: float) -> float | None:
        """Count a request of `tokens` if it fits, and say None; else the seconds to wait."""


class RateLimiter:
    """Waits until a request fits the limits (0: unlimited), then counts it."""

    def __init__(
        self,
        rpm: int,
        tpm: int,
        window: float | None = None,
        bucket: str = "default",
        store: Store | None = None,
    ) -> None:
        self.rpm, self.tpm = rpm, tpm
        self.window = window if window is not None else settings.CASCADE_AI_RATE_WINDOW
        self.bucket = hashlib.sha256(bucket.encode()).hexdigest()[:32]
        self.store = store

    def acquire(self, tokens: int) -> None:
        if not self.rpm and not self.tpm:
            return
        store = self.store or shared_store()
        while True:
            wait = store.take(self.bucket, self.rpm, self.tpm, tokens, self.window)
            if wait is None:
                return
            time.sleep(min(max(wait, 0.01), 0.25))


def shared_store() -> Store:
    return RedisStore() if settings.CASCADE_EXECUTOR == "celery" else DatabaseStore()


class DatabaseStore:
    """The window's requests as rows (AiRequest), read and added in one transaction that one
    process holds at a time (SQLite's IMMEDIATE transactions; an advisory lock on PostgreSQL)."""

    def take(self, bucket: str, rpm: int, tpm: int, tokens: int, window: float) -> float | None:
        from cascade.automation.models import AiRequest

        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_advisory_xact_lock(%s)", [zlib.crc32(bucket.encode())]
                    )
            now = timezone.now()
            rows = AiRequest.objects.filter(bucket=bucket)
            rows.filter(at__lte=now - timedelta(seconds=window)).delete()
            seen = rows.aggregate(count=Count("id"), used=Sum("tokens"), oldest=Min("at"))
            if _fits(rpm, tpm, tokens, seen["count"], seen["used"] or 0):
                AiRequest.objects.create(bucket=bucket, at=now, tokens=tokens)
                return None
            return window - (now - seen["oldest"]).total_seconds()


# KEYS[1]: the bucket; ARGV: window, rpm, tpm, tokens, a unique id. Redis's own clock, so that
# workers on several machines agree on the window.
_TAKE = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local window, rpm, tpm, tokens = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local count, used = #entries / 2, 0
for i = 1, #entries, 2 do
  used = used + tonumber(string.match(entries[i], ':(%d+)$'))
end
if (rpm == 0 or count < rpm) and (tpm == 0 or count == 0 or used + tokens <= tpm) then
  redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
  return nil
end
return tostring(window - (now - tonumber(entries[2])))
"""


class RedisStore:
    """The window's requests in a sorted set of Redis, read and added by one script."""

    _script: Any = None

    def take(self, bucket: str, rpm: int, tpm: int, tokens: int, window: float) -> float | None:
        if RedisStore._script is None:
            from cascade.automation.executor import redis_client

            RedisStore._script = redis_client().register_script(_TAKE)
        wait = RedisStore._script(
            keys=[f"cascade:ai-rate:{bucket}"],
            args=[window, rpm, tpm, tokens, uuid.uuid4().hex],
        )
        return None if wait is None else float(wait)


def _fits(rpm: int, tpm: int, tokens: int, count: int, used: int) -> bool:
    """A request fits when the window has room for one more, and for its tokens (a request
    larger than the whole token limit goes alone into an empty window)."""
    return (not rpm or count < rpm) and (not tpm or count == 0 or used + tokens <= tpm)
