"""AI providers. `get_provider()` returns the one configured by CASCADE_AI_PROVIDER: a short
name (`local`) or a dotted path to a provider class."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

from django.conf import settings
from django.utils.module_loading import import_string

from cascade.ai.base import ProviderUnavailable

PROVIDERS = {
    "local": "cascade.ai.local.LocalProvider",
    "openai": "cascade.ai.openai_provider.OpenAIProvider",
}

_lock = threading.Lock()
_cache: dict[str, object] = {}
# Providers made for accounts' own keys, least recently used first (each holds an HTTP client).
_keyed: OrderedDict[str, object] = OrderedDict()
KEYED_CLIENTS = 64


def _account_key(account) -> str | None:
    from cascade.accounts.secrets import Undecryptable

    try:
        return account.ai_key()
    except Undecryptable as exc:
        raise ProviderUnavailable(
            "The account's AI key cannot be read by this server (its secret key changed): "
            "re-enter your key on the Account page."
        ) from exc


def unknown_provider(name: str) -> str:
    return (
        f"CASCADE_AI_PROVIDER={name!r} is unknown: use one of {sorted(PROVIDERS)} or the dotted "
        "path of a provider class that can be imported."
    )


def provider_problem() -> str | None:
    """Why the configured provider cannot be loaded, or None (a system check asks)."""
    name = settings.CASCADE_AI_PROVIDER
    try:
        import_string(PROVIDERS.get(name, name))
    except ImportError:
        return unknown_provider(name)
    return None


def get_provider(account=None):
    """The configured provider; with an account that has its own API key (and a provider that
    takes keys), one that uses that key. A stored key that cannot be decrypted is reported
    (ProviderUnavailable), never replaced by the server's key."""
    name = settings.CASCADE_AI_PROVIDER
    secret = _account_key(account) if account is not None and name == "openai" else None
    if secret:
        slot = f"{name}:{hashlib.sha256(secret.encode()).hexdigest()}"
        with _lock:
            if slot in _keyed:
                _keyed.move_to_end(slot)
            else:
                _keyed[slot] = import_string(PROVIDERS[name])(api_key=secret)
                while len(_keyed) > KEYED_CLIENTS:
                    _keyed.popitem(last=False)
            return _keyed[slot]
    with _lock:
        if name not in _cache:
            path = PROVIDERS.get(name, name)
            try:
                cls = import_string(path)
            except ImportError as exc:  # a run pauses with this, instead of failing its items
                raise ProviderUnavailable(unknown_provider(name)) from exc
            _cache[name] = cls()
        return _cache[name]


def reset_provider_cache() -> None:
    with _lock:
        _cache.clear()
        _keyed.clear()
