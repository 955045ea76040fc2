"""AI providers. `get_provider()` returns the one configured by CASCADE_AI_PROVIDER: a short
name (`local`) or a dotted path to a provider class."""

from __future__ import annotations

import threading

from django.conf import settings
from django.utils.module_loading import import_string

PROVIDERS = {
    "local": "cascade.ai.local.LocalProvider",
    "openai": "cascade.ai.openai_provider.OpenAIProvider",
}

_lock = threading.Lock()
_cache: dict[str, object] = {}


def get_provider(account=None):
    """The configured provider; with an account that has its own API key (and a provider that
    takes keys), one that uses that key."""
    name = settings.CASCADE_AI_PROVIDER
    secret = account.ai_key() if account is not None and name == "openai" else None
    if secret:
        import hashlib

        slot = f"{name}:{hashlib.sha256(secret.encode()).hexdigest()}"
        with _lock:
            if slot not in _cache:
                cls = import_string(PROVIDERS[name])
                _cache[slot] = cls(api_key=secret)
            return _cache[slot]
    with _lock:
        if name not in _cache:
            path = PROVIDERS.get(name, name)
            try:
                cls = import_string(path)
            except ImportError as exc:
                raise RuntimeError(
                    f"CASCADE_AI_PROVIDER={name!r} is unknown; use one of {sorted(PROVIDERS)} "
                    "or a dotted path to a provider class"
                ) from exc
            _cache[name] = cls()
        return _cache[name]


def reset_provider_cache() -> None:
    with _lock:
        _cache.clear()
