"""Bounds on what a request may carry: bodies are capped before anything reads them, and ids
and numbers in URLs and bodies stay within what the database can hold."""

from __future__ import annotations

import functools
import json
import re
import sys
import unicodedata
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

# Larger than any row id the database hands out; a bigger one is a 404 or a 422, never a 500.
MAX_ID = 2**53
IMPORT_PATH = re.compile(r"^/(api/v1/)?sites/\d+/keywords/(import/)?$")


def digits(text: str) -> bool:
    """Whether `text` is a whole number written in ASCII digits ("²".isdigit() is true too)."""
    return bool(re.fullmatch(r"[0-9]{1,18}", text))


def body_limit(method: str, path: str) -> int:
    if method == "POST" and IMPORT_PATH.match(path):
        return settings.CASCADE_IMPORT_MAX_BYTES
    return settings.CASCADE_BODY_MAX_BYTES


def _too_large(limit: int, size: int | None = None) -> str:
    said = f"The request body is {size / 2**20:.1f} MiB" if size else "The request body is larger"
    return f"{said}; at most {limit / 2**20:g} MiB is accepted here."


NOT_A_LENGTH = "Content-Length must be a whole number of bytes."
BOTH_LENGTHS = "Send Content-Length or Transfer-Encoding, not both."


class BodyLimitMiddleware:
    """413 for a body over its limit (keyword imports: CASCADE_IMPORT_MAX_BYTES; anything else:
    CASCADE_BODY_MAX_BYTES), decided from Content-Length before the body is read. Under ASGI,
    `BodyLimit` below has refused such a body before Django sees it; this is the same rule for
    Django's own handlers (tests, WSGI)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = request.META.get("CONTENT_LENGTH") or "0"
        limit = body_limit(request.method or "", request.path)
        if not digits(declared):
            return self._refuse(request, 400, NOT_A_LENGTH)
        if int(declared) > limit:
            return self._refuse(request, 413, _too_large(limit, int(declared)))
        return self.get_response(request)

    @staticmethod
    def _refuse(request: HttpRequest, status: int, detail: str) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": detail}, status=status)
        return HttpResponse(detail, status=status, content_type="text/plain; charset=utf-8")


class BodyLimit:
    """The same limits at the ASGI level, before Django (which spools a body to disk before any
    middleware runs) takes a byte: a declared Content-Length over the limit is refused before
    the body is read; a chunked body, which declares none, is refused as soon as what arrived
    passes the limit (Django is told the client went away, and reads no more)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, limit = scope["path"], body_limit(scope["method"], scope["path"])
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and b"transfer-encoding" in headers:  # (request smuggling)
            return await self._refuse(send, path, 400, BOTH_LENGTHS)
        # A chunked body is counted as it comes, whatever length it also declares (the
        # server reads it by its chunks, not by the declared length).
        if declared is not None and b"transfer-encoding" not in headers:
            if not digits(declared.decode("latin-1").strip()):
                return await self._refuse(send, path, 400, NOT_A_LENGTH)
            if int(declared) > limit:
                return await self._refuse(send, path, 413, _too_large(limit, int(declared)))
            return await self.app(scope, receive, send)
        taken, over = 0, False

        async def counted() -> dict[str, Any]:
            nonlocal taken, over
            message = await receive()
            if message["type"] == "http.request" and not over:
                taken += len(message.get("body", b""))
                if taken > limit:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted, send)
        if over:
            await self._refuse(send, path, 413, _too_large(limit))

    @staticmethod
    async def _refuse(send: Any, path: str, status: int, detail: str) -> None:
        if path.startswith("/api/"):
            body, kind = json.dumps({"detail": detail}).encode(), b"application/json"
        else:
            body, kind = detail.encode(), b"text/plain; charset=utf-8"
        headers = [
            (b"content-type", kind),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# Characters that change how text is shown without being seen: bidirectional overrides and
# isolates, zero-width spaces and joiners, the byte-order mark, soft hyphen and the like.
INVISIBLE = frozenset(
    "\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff\u00ad"
    # blanks that are letters or symbols to Unicode: Hangul fillers, the braille blank, the
    # combining grapheme joiner, line and paragraph separators, a musical null notehead
    "\u115f\u1160\u3164\uffa0\u2800\u034f\u2028\u2029\U0001d159"
)


ALLOWED_CONTROLS = "\t\n\r"


# Unicode's Default_Ignorable_Code_Point outside the Cf category: shown as nothing, whatever a
# font does (variation selectors, fillers, the combining grapheme joiner, and the whole
# U+E0000-U+E0FFF block of tags and variation selectors, assigned or not).
IGNORABLE = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x2065, 0x2065),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0x16FE4, 0x16FE4),
    (0x1BCA0, 0x1BCA3),
    (0xE0000, 0xE0FFF),
)


def _ignorable(code: int) -> bool:
    return any(low <= code <= high for low, high in IGNORABLE)


def text_problem(value: str) -> str | None:
    """Why a text a person typed (a keyword, a name, a title, a note) cannot be stored as it
    is, or None. One rule for every such text, and the same the API's schema states (`VISIBLE`):
    no invisible characters (Unicode's format category Cf: bidirectional controls, zero-width
    characters, TAG characters that smuggle invisible text into prompts), no control characters
    but tab and line breaks (NUL included), no lone surrogates."""
    for char in value:
        if 0xE0000 <= ord(char) <= 0xE007F:
            return f"contains an invisible tag character (U+{ord(char):05X})"
        category = unicodedata.category(char)
        if char in INVISIBLE or category == "Cf" or _ignorable(ord(char)):
            return f"contains an invisible formatting character (U+{ord(char):04X})"
        if category == "Cs":
            return "contains a broken character (a lone surrogate)"
        if category == "Cc" and char not in ALLOWED_CONTROLS:
            return f"contains a control character (U+{ord(char):04X})"
    return None


@functools.cache
def refused_class() -> str:
    """The characters `text_problem` refuses (lone surrogates aside, which JSON text cannot
    carry), as the inside of a regular-expression character class: the schema's statement of
    the same rule."""
    ranges: list[list[int]] = []
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) == "Cs" or text_problem(char) is None:
            continue
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])

    def one(code: int) -> str:
        return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)

    return "".join(one(a) if a == b else f"{one(a)}-{one(b)}" for a, b in ranges)


def visible_pattern(required: bool) -> str:
    """A text of visible characters (`required`: with at least one that is not a space)."""
    refused = refused_class()
    if required:
        return f"^[^{refused}]*[^{refused}\\s][^{refused}]*$"
    return f"^[^{refused}]*$"
