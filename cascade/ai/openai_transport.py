"""Sending to an OpenAI-compatible server: every request (the client's own retries included)
takes a slot of the rate limit shared by every process using the key, at most
CASCADE_AI_CONCURRENCY are in flight at once, and what still fails after the client's retries is
told to the engine in its words: retry the item later, fail it, or pause the run."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from cascade.ai.base import ProviderError, ProviderRefused, ProviderUnavailable


def redact(text: str, secret: str) -> str:
    return text.replace(secret, "[key]") if secret else text


class Transport:
    """The sending half of the provider (it sets `_openai`, `client`, `gate`, `limiter`,
    `_sending` and `_key`)."""

    _openai: Any
    _key: str
    gate: Any
    limiter: Any
    _sending: Any

    def _take_slot(self, request: Any) -> None:
        self.limiter.acquire(getattr(self._sending, "tokens", 0))

    def _call(self, send, estimated_tokens: int):
        """Send one request within the limits. The openai client itself retries what is worth
        retrying (429, 408, 409, 5xx, timeouts, lost connections) CASCADE_AI_RETRIES times,
        honouring Retry-After with jittered backoff; what still fails is told to the engine in
        its words: retry the item later, fail it, or pause the run."""
        openai = self._openai
        tries = settings.CASCADE_AI_RETRIES + 1
        self._sending.tokens = estimated_tokens  # (each try takes its slot: `_take_slot`)
        try:
            with self.gate:
                return send()
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            raise ProviderUnavailable(
                f"The AI provider refused the API key ({exc.status_code}): check OPENAI_API_KEY or the "
                "account's key on its settings page."
            ) from None
        except openai.BadRequestError as exc:
            raise ProviderRefused(redact(message_of(exc), self._key)) from None
        except openai.RateLimitError:
            raise ProviderError(
                f"The AI provider rate-limited the request (429) {tries} times."
            ) from None
        except openai.APITimeoutError:
            raise ProviderError(
                f"The AI provider timed out after {settings.CASCADE_AI_TIMEOUT:g} s, {tries} times."
            ) from None
        except openai.APIConnectionError:
            raise ProviderError(f"Could not connect to the AI provider ({tries} tries).") from None
        except openai.APIStatusError as exc:
            if exc.status_code < 500 and exc.status_code not in (408, 409):
                raise ProviderRefused(
                    f"{exc.status_code}: {redact(message_of(exc), self._key)}"
                ) from None
            raise ProviderError(
                f"The AI provider answered {exc.status_code} {tries} times: "
                f"{redact(message_of(exc), self._key)}"
            ) from None
        finally:
            self._sending.tokens = 0


def message_of(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:500]
    return str(getattr(exc, "message", "") or exc)[:500]
