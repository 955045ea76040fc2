"""An OpenAI-compatible provider: OpenAI itself, gateways that speak its API, or local model
servers (Ollama, vLLM, LM Studio).

Every text stage asks for structured output (a JSON schema in `response_format`) and validates
the answer with pydantic; an invalid answer is asked again with the validation error, never
accepted. Requests are limited in concurrency and rate, retries included (`openai_transport`);
the openai client retries transient failures (waiting for `Retry-After`, backing off with
jitter), and the engine retries the item after that. Worst case per item:
CASCADE_MAX_ATTEMPTS x (1 + REPAIRS) x (1 + CASCADE_AI_RETRIES) requests. The API key never
leaves this module and its transport: it is not logged and no error message contains it."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from string import Template
from typing import Any, TypeVar

from django.conf import settings
from pydantic import BaseModel, ValidationError

from cascade.ai import usage
from cascade.ai.answers import (
    ArticleModel,
    IdeasOut,
    schema_of,
)
from cascade.ai.base import (
    ArticleOut,
    Brief,
    ClusterIn,
    IdeaOut,
    ProviderError,
    ProviderUnavailable,
    SiteProfile,
)
from cascade.ai.limits import RateLimiter
from cascade.ai.notes import length_goal
from cascade.ai.openai_clustering import Clustering
from cascade.ai.openai_pictures import Pictures
from cascade.ai.openai_transport import Transport
from cascade.ai.text import clip, count_words

log = logging.getLogger("cascade.ai.openai")
Answer = TypeVar("Answer", bound=BaseModel)
PROMPTS = Path(__file__).parent / "prompts"
REPAIRS = 1  # times an invalid answer is sent back with its validation error


class OpenAIProvider(Transport, Clustering, Pictures):
    name = "openai"
    is_offline = False

    def __init__(self, api_key: str | None = None) -> None:
        import openai

        self._openai = openai
        key = api_key or settings.OPENAI_API_KEY
        if not key:
            raise ProviderUnavailable(
                "No API key for the OpenAI provider: set OPENAI_API_KEY or the account's key on its settings page."
            )
        self._key = key
        self.text_model = settings.CASCADE_TEXT_MODEL
        self.image_model = settings.CASCADE_IMAGE_MODEL
        self.label = f"OpenAI-compatible · {self.text_model}"
        # Every request the client sends, its own retries included, takes a slot of the rate
        # limit first (the hook runs in the sending thread, which says what it estimated).
        self._sending = threading.local()
        self.client = openai.OpenAI(
            api_key=key,
            base_url=settings.OPENAI_BASE_URL or None,
            timeout=settings.CASCADE_AI_TIMEOUT,
            max_retries=settings.CASCADE_AI_RETRIES,  # transport retries: here and only here
            http_client=openai.DefaultHttpxClient(event_hooks={"request": [self._take_slot]}),
        )
        self.embedding_model = settings.CASCADE_EMBEDDING_MODEL
        # Which vectors a cluster's stored centroid is made of (another model's are not used).
        self.embedding_id = f"openai:{self.embedding_model}" if self.embedding_model else ""
        self.fallback_notice = ""  # set once the provider answered 404 for embeddings
        self.gate = threading.BoundedSemaphore(max(1, settings.CASCADE_AI_CONCURRENCY))
        # One limit for every process sending with this key to this server.
        self.limiter = RateLimiter(
            settings.CASCADE_AI_RPM,
            settings.CASCADE_AI_TPM,
            bucket=f"{settings.OPENAI_BASE_URL}|{key}",
        )

    def __repr__(self) -> str:  # never the key
        return f"<OpenAIProvider {self.text_model}>"

    # --- transport ---------------------------------------------------------------------------------

    def _structured(
        self,
        prompt: str,
        model: type[Answer],
        name: str,
        check: Callable[[Answer], None] | None = None,
    ) -> Answer:
        """Ask for JSON of `model`'s schema; send invalid answers back with the error."""
        messages: list[Any] = [
            {
                "role": "system",
                "content": "You are a careful content strategist. Answer only with JSON that "
                "matches the given schema.",
            },
            {"role": "user", "content": prompt},
        ]
        fmt: Any = {
            "type": "json_schema",
            "json_schema": {"name": name, "strict": True, "schema": schema_of(model)},
        }
        problem = ""
        for _ in range(REPAIRS + 1):
            response = self._call(
                lambda sent=messages: self.client.chat.completions.create(
                    model=self.text_model, messages=sent, response_format=fmt
                ),
                estimated_tokens=len(json.dumps(messages)) // 3 + 1000,
            )
            if response.usage:
                usage.record(
                    response.usage.prompt_tokens or 0, response.usage.completion_tokens or 0
                )
            text = (response.choices[0].message.content or "") if response.choices else ""
            try:
                answer = model.model_validate_json(text)
                if check:
                    check(answer)
                return answer
            except (ValidationError, ValueError) as exc:
                problem = _short(exc)
                log.info("invalid %s answer: %s", name, problem)
                messages = messages + [
                    {"role": "assistant", "content": text[:20000]},
                    {
                        "role": "user",
                        "content": f"That answer is invalid: {problem}. Answer again with valid JSON.",
                    },
                ]
        raise ProviderError(
            f"The AI provider's {name} answer stayed invalid after {REPAIRS + 1} tries: {problem}"
        )

    @staticmethod
    def _prompt(stage: str, **values: Any) -> str:
        folder = Path(settings.CASCADE_PROMPTS_DIR) if settings.CASCADE_PROMPTS_DIR else PROMPTS
        path = folder / f"{stage}.txt"
        if not path.exists():
            path = PROMPTS / f"{stage}.txt"
        return Template(path.read_text()).safe_substitute(**values)

    @staticmethod
    def _who(profile: SiteProfile | None) -> dict[str, str]:
        p = profile or SiteProfile()
        return {
            "site": p.name or "the site",
            "tone": p.tone or "clear",
            "audience": p.audience or "general readers",
            "language": p.language or "English",
        }

    # --- the stages ---------------------------------------------------------------------------------

    def generate_ideas(
        self,
        cluster: ClusterIn,
        count: int,
        taken_titles: set[str],
        profile: SiteProfile | None = None,
    ) -> list[IdeaOut]:
        def check(answer: IdeasOut) -> None:
            if len(answer.ideas) != count:
                raise ValueError(f"expected {count} ideas, got {len(answer.ideas)}")
            titles = [i.title.casefold() for i in answer.ideas]
            if len(set(titles)) != len(titles) or set(titles) & {
                t.casefold() for t in taken_titles
            }:
                raise ValueError("titles must be unique and not already taken")

        prompt = self._prompt(
            "ideas",
            count=count,
            cluster=cluster.name,
            keywords=", ".join(k.keyword for k in cluster.keywords) or cluster.name,
            taken=", ".join(sorted(taken_titles)[:50]) or "none",
            **self._who(profile),
        )
        answer = self._structured(prompt, IdeasOut, "ideas", check)
        return [
            IdeaOut(
                title=i.title,
                outline=i.outline,
                target_keywords=i.target_keywords,
                structure=i.structure,
            )
            for i in answer.ideas
        ]

    def write_article(self, brief: Brief, profile: SiteProfile | None = None) -> ArticleOut:
        who = self._who(profile)
        who.update(
            {
                k: v
                for k, v in (
                    ("tone", brief.tone),
                    ("audience", brief.audience),
                    ("language", brief.language),
                )
                if v
            }
        )
        prompt = self._prompt(
            "article",
            title=brief.title,
            structure=brief.structure,
            keywords=", ".join(brief.target_keywords),
            outline=json.dumps(brief.outline),
            target_words=brief.target_words,
            note=f"A reviewer asked for this rewrite: {brief.note}" if brief.note else "",
            **who,
        )
        goal = length_goal(brief.note)

        def check(answer: ArticleModel) -> None:
            words = count_words(answer.html)
            if goal and not goal.allows(words):
                raise ValueError(
                    f"the article has {words:,} words; the reviewer's note asks for "
                    f"{goal.say()}: write it again at that length"
                )

        answer = self._structured(prompt, ArticleModel, "article", check)
        return ArticleOut(
            title=clip(answer.title, 300),
            html=answer.html,
            meta_title=clip(answer.meta_title, 60),
            meta_description=clip(answer.meta_description, 160),
            word_count=count_words(answer.html),
        )


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = [
            f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}"
            for e in exc.errors()[:5]
        ]
        return "; ".join(parts)
    return str(exc)[:500]
