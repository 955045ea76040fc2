"""Token and image usage of the AI calls made for one item, collected while its stage works."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_current = threading.local()


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    images: int = 0

    @property
    def measured(self) -> bool:
        return bool(self.prompt_tokens or self.completion_tokens or self.images)


@contextmanager
def measure() -> Iterator[Usage]:
    usage = Usage()
    previous = getattr(_current, "usage", None)
    _current.usage = usage
    try:
        yield usage
    finally:
        _current.usage = previous


def record(prompt_tokens: int = 0, completion_tokens: int = 0, images: int = 0) -> None:
    usage = getattr(_current, "usage", None)
    if usage is not None:
        usage.prompt_tokens += prompt_tokens
        usage.completion_tokens += completion_tokens
        usage.images += images
