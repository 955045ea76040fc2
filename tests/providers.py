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

    def cluster_keywords(self, keywords, existing, profile=None, method=""):
        self._call()
        return super().cluster_keywords(keywords, existing, method=method)

    def generate_ideas(self, cluster, count, taken_titles, profile=None):
        self._call()
        return super().generate_ideas(cluster, count, taken_titles)

    def write_article(self, brief, profile=None):
        self._call()
        return super().write_article(brief)

    def image_prompts(self, title, sections, profile=None):
        self._call()
        return super().image_prompts(title, sections)

    def render_image(self, prompt, width, height, profile=None):
        self._call()
        return super().render_image(prompt, width, height)


class RefusingProvider(LocalProvider):
    """Refuses requests the way an AI API's content policy does: every call of the methods named
    in CASCADE_TEST_REFUSE (comma separated), or only those whose text contains
    CASCADE_TEST_REFUSE_MATCH when it is set."""

    name = "refusing"

    def _refuse(self, method: str, text: str) -> None:
        import os

        from cascade.ai.base import ProviderRefused

        if method not in os.environ.get("CASCADE_TEST_REFUSE", "").split(","):
            return
        match = os.environ.get("CASCADE_TEST_REFUSE_MATCH", "")
        if not match or match.lower() in text.lower():
            raise ProviderRefused("Your request was rejected as a result of our safety system.")

    def cluster_keywords(self, keywords, existing, profile=None, method=""):
        self._refuse("cluster_keywords", " ".join(k.keyword for k in keywords))
        return super().cluster_keywords(keywords, existing, method=method)

    def write_article(self, brief, profile=None):
        self._refuse("write_article", brief.title)
        return super().write_article(brief)


HOSTILE = (
    '<script>alert("stored")</script><h1 onclick="steal()">Big</h1>'
    '<p style="color:red" onmouseover="x()">Read <a href="javascript:alert(1)">this</a> and '
    '<a href="https://example.org/ok">that</a>.</p><iframe src="https://evil.example"></iframe>'
    '<img src="x" onerror="alert(2)"><p>Done &amp; dusted.</p>'
)


class HostileProvider(LocalProvider):
    """An AI that answers HTML with scripts, handlers and javascript: links around the article."""

    name = "hostile"

    def write_article(self, brief, profile=None):
        article = super().write_article(brief)
        article.html = HOSTILE + article.html
        return article


class CrashingProvider(LocalProvider):
    """Stops the whole process, as a crash in an AI library or running out of memory does, when
    it writes the article whose title is in the file CASCADE_TEST_CRASH_FILE names."""

    name = "crashing"
    EXIT_CODE = 70

    def write_article(self, brief, profile=None):
        import os
        from pathlib import Path

        doomed = Path(os.environ.get("CASCADE_TEST_CRASH_FILE", "/nonexistent"))
        if doomed.exists() and doomed.read_text() == brief.title:
            os._exit(self.EXIT_CODE)
        return super().write_article(brief)


class PickyProvider(LocalProvider):
    """Fails every attempt at about one article in four (chosen by its title), with the answer
    of a broken gateway: a failure that looks transient but is the item's own."""

    name = "picky"

    @staticmethod
    def refuses(title: str) -> bool:
        import zlib

        return zlib.crc32(title.encode()) % 4 == 0

    def write_article(self, brief, profile=None):
        if self.refuses(brief.title):
            raise ProviderError("502 Bad Gateway from the AI provider")
        return super().write_article(brief)


class LastArticleFailsProvider(LocalProvider):
    """Fails every attempt at the article written when no other is waiting (the last one of its
    stage), with the answer of a broken gateway: nothing succeeds after its first attempt, yet
    the failure is that item's own."""

    name = "last-fails"
    victim: str | None = None

    def write_article(self, brief, profile=None):
        from cascade.automation.models import RunItem
        from cascade.automation.statuses import ItemState

        cls = LastArticleFailsProvider
        if (
            cls.victim is None
            and not RunItem.objects.filter(stage=4, state=ItemState.QUEUED).exists()
        ):
            cls.victim = brief.title
        if brief.title == cls.victim:
            raise ProviderError("502 Bad Gateway from the AI provider")
        return super().write_article(brief)


class GatedProvider(LocalProvider):
    """Holds every article at its writing while the file CASCADE_TEST_GATE_FILE names exists, as
    a slow AI API does: a test decides when the items in flight may finish."""

    name = "gated"

    def write_article(self, brief, profile=None):
        import os
        import time
        from pathlib import Path

        gate = Path(os.environ.get("CASCADE_TEST_GATE_FILE", "/nonexistent"))
        deadline = time.monotonic() + 120  # a test that forgets its gate fails, never hangs
        while gate.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return super().write_article(brief)


class ModelAltProvider(LocalProvider):
    """Writes image prompts with a real model's alt text (what the picture should show), then
    draws them offline: the alt text kept must say what was drawn."""

    name = "model-alt"

    def image_prompts(self, title, sections, profile=None):
        prompts = super().image_prompts(title, sections)
        for prompt in prompts:
            prompt.alt = "A terracotta pot of ripe tomatoes on a sunny windowsill"
        return prompts
