"""Request limits of an AI provider: at most CASCADE_AI_RPM requests and CASCADE_AI_TPM tokens
in any sliding window of CASCADE_AI_RATE_WINDOW seconds, counted once for every process that
sends with the same key (three workers share one limit, not three), in the store the automation
app installs (automation/rate_store.py: Redis on Celery, the database otherwise)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Protocol

from django.conf import settings


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


_stores: list[Callable[[], Store]] = []


def share_with(make: Callable[[], Store]) -> None:
    """Where every process counts the requests (installed by the automation app: Redis on
    Celery, the database with the embedded worker)."""
    _stores[:] = [make]


def shared_store() -> Store:
    if not _stores:
        raise RuntimeError("no store for the AI rate limit is installed (automation app)")
    return _stores[0]()


def fits(rpm: int, tpm: int, tokens: int, count: int, used: int) -> bool:
    """A request fits when the window has room for one more, and for its tokens (a request
    larger than the whole token limit goes alone into an empty window)."""
    return (not rpm or count < rpm) and (not tpm or count == 0 or used + tokens <= tpm)
