"""Providers for fault tests: the offline provider with failures injected at its edge."""

from __future__ import annotations

import random
import threading

from cascade.ai.base import ProviderError
from cascade.ai.local import LocalProvider


class FlakyProvider(LocalProvider):
    """Fails a share of calls the way a throttled or broken AI API does."""

    name = "flaky"
    failure_rate = 0.3
    calls = 0
    failures = 0
    _rng = random.Random(20261129)
    _lock = threading.Lock()

    @classmethod
    def configure(cls, rate: float, seed: int = 20261129) -> None:
        with cls._lock:
            cls.failure_rate, cls.calls, cls.failures = rate, 0, 0
            cls._rng = random.Random(seed)

    def _call(self) -> None:
        cls = type(self)
        with cls._lock:
            cls.calls += 1
            fail = cls._rng.random() < cls.failure_rate
            cls.failures += fail
        if fail:
            raise ProviderError("503 Service Unavailable from the AI provider")

    def cluster_keywords(self, keywords, existing, profile=None):
        self._call()
        return super().cluster_keywords(keywords, existing)

    def generate_ideas(self, cluster, count, taken_titles, profile=None):
        self._call()
        return super().generate_ideas(cluster, count, taken_titles)

    def write_article(self, brief, profile=None):
        self._call()
        return super().write_article(brief)

    def image_prompts(self, title, outline, in_article, profile=None):
        self._call()
        return super().image_prompts(title, outline, in_article)

    def render_image(self, prompt, width, height, profile=None):
        self._call()
        return super().render_image(prompt, width, height)
