"""Request limits of an AI provider: a sliding-window limiter of requests and tokens."""

from __future__ import annotations

import threading
import time
from collections import deque


class RateLimiter:
    """At most `rpm` requests and `tpm` tokens in any sliding minute (0: unlimited)."""

    def __init__(self, rpm: int, tpm: int, window: float = 60.0) -> None:
        self.rpm, self.tpm, self.window = rpm, tpm, window
        self.requests: deque[float] = deque()
        self.tokens: deque[tuple[float, int]] = deque()
        self.lock = threading.Lock()

    def acquire(self, tokens: int) -> None:
        while True:
            with self.lock:
                now = time.monotonic()
                while self.requests and now - self.requests[0] > self.window:
                    self.requests.popleft()
                while self.tokens and now - self.tokens[0][0] > self.window:
                    self.tokens.popleft()
                used = sum(t for _, t in self.tokens)
                fits_requests = not self.rpm or len(self.requests) < self.rpm
                fits_tokens = not self.tpm or used + tokens <= self.tpm or not self.tokens
                if fits_requests and fits_tokens:
                    self.requests.append(now)
                    self.tokens.append((now, tokens))
                    return
                starts = [self.requests[0]] if self.requests else []
                starts += [self.tokens[0][0]] if self.tokens else []
                oldest = min(starts, default=now)
                wait = max(0.01, self.window - (now - oldest))
            time.sleep(min(wait, 0.25))
