"""Where every process counts its AI requests against the shared rate limit (ai/limits.py):
Redis when the work runs on Celery, the database with the embedded worker."""

from __future__ import annotations

import uuid
import zlib
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min, Sum
from django.utils import timezone

from cascade.ai import limits
from cascade.automation.executor import redis_client
from cascade.automation.process_models import AiRequest


def install() -> None:
    limits.share_with(
        lambda: RedisStore() if settings.CASCADE_EXECUTOR == "celery" else DatabaseStore()
    )


class DatabaseStore:
    """The window's requests as rows (AiRequest), read and added in one transaction that one
    process holds at a time (SQLite's IMMEDIATE transactions; an advisory lock on PostgreSQL)."""

    def take(self, bucket: str, rpm: int, tpm: int, tokens: int, window: float) -> float | None:
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
            if limits.fits(rpm, tpm, tokens, seen["count"], seen["used"] or 0):
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
            RedisStore._script = redis_client().register_script(_TAKE)
        wait = RedisStore._script(
            keys=[f"cascade:ai-rate:{bucket}"],
            args=[window, rpm, tpm, tokens, uuid.uuid4().hex],
        )
        return None if wait is None else float(wait)
