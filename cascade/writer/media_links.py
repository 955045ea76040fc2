"""Picture addresses for API clients: signed and expiring, so a program with a token (and no
browser session) can fetch the pictures the API names, and an address passed on stops working
after CASCADE_MEDIA_LINK_SECONDS. In the browser, pictures are checked against the session."""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing

from cascade.lib.limits import digits

_signer = signing.Signer(salt="cascade.media-link")


def signed(file: str) -> str:
    expires = int(time.time()) + settings.CASCADE_MEDIA_LINK_SECONDS
    signature = _signer.sign(f"{expires}:{file}").rsplit(":", 1)[1]
    query = urlencode({"expires": expires, "signature": signature})
    return f"{settings.MEDIA_URL}{file}?{query}"


def valid(file: str, expires: str, signature: str) -> bool:
    """Whether a signed address for `file` is genuine and not yet expired."""
    if not digits(expires) or int(expires) < time.time():
        return False
    try:
        _signer.unsign(f"{expires}:{file}:{signature}")
    except signing.BadSignature:
        return False
    return True
