"""A small client of the WordPress REST API (`/wp-json/wp/v2/`, or `?rest_route=` on sites
without pretty links), authenticated with an application password. Every lookup it offers is
there so that publishing again finds what an earlier, perhaps interrupted, attempt made."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from cascade.lib import outbound
from cascade.lib.limits import text_problem
from cascade.lib.net import internal_address

DEADLINE = 60.0  # one call to WordPress, a picture's upload included
# Refusals that may pass: credentials being fixed, a rate limit, a proxy's timeout.
RETRIED = frozenset({401, 403, 408, 425, 429})


class WordPressError(Exception):
    """WordPress refused or could not be reached. `retry` says whether trying later may help."""

    def __init__(
        self, message: str, status: int | None = None, retry: bool = False, data: Any = None
    ) -> None:
        super().__init__(message)
        self.message, self.status, self.retry = message, status, retry
        self.data = data if isinstance(data, dict) else {}


def check_url(url: str) -> str:
    """The WordPress address, or ValueError saying why it cannot be used: http(s) only, and not
    a loopback or private address unless CASCADE_PUBLISH_ALLOW_PRIVATE is set."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or text_problem(url):
        raise ValueError("url: must be an http:// or https:// address of a WordPress site")
    if _private(parts.hostname, parts.port):
        raise ValueError(
            "url: this address is on a private or loopback network; the operator allows such "
            "addresses with CASCADE_PUBLISH_ALLOW_PRIVATE"
        )
    return url.strip().rstrip("/")


def _private(host: str, port: int | None) -> bool:
    try:
        return internal_address(host, port, settings.CASCADE_PUBLISH_ALLOW_PRIVATE) is not None
    except (OSError, UnicodeError):
        return False  # cannot be resolved now: publishing will say so


def marker(site_id: int, content_id: int, written: Any) -> str:
    """What a post Cascade made carries, to be found again after an interrupted publish. The
    article's creation time (to the microsecond) keeps two installations, or one whose database
    was reset, from taking each other's posts."""
    return f"cascade:site-{site_id}:article-{content_id}:{int(written.timestamp() * 1e6)}"


class Client:
    def __init__(self, url: str, username: str, password: str) -> None:
        self.base = check_url(url)
        # Every connection (redirects too) is checked again where it is made (lib/outbound.py).
        self.http = outbound.Client(
            settings.CASCADE_PUBLISH_ALLOW_PRIVATE,
            DEADLINE,
            auth=(username, password),
            follow_redirects=True,
        )
        self._pretty: bool | None = None  # whether the site has pretty links (/wp-json/)

    def close(self) -> None:
        self.http.close()

    def _route(self, path: str, params: Any) -> tuple[str, dict[str, Any]]:
        """Where a REST path is, with its query: `/wp-json/…` on sites with pretty links, else
        `/?rest_route=/…` with the call's own parameters beside it (a URL's query and a
        request's parameters are not merged by httpx: the route must be one of them)."""
        if self._pretty is None:
            try:
                index = self.http.get(f"{self.base}/wp-json/")
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise WordPressError(f"WordPress cannot be reached: {exc}", retry=True) from None
            # The REST index answers JSON, even when it refuses the credentials (401).
            self._pretty = "json" in index.headers.get("content-type", "")
        query = dict(params or {})
        if self._pretty:
            return f"{self.base}/wp-json/wp/v2/{path}", query
        return f"{self.base}/", {"rest_route": f"/wp/v2/{path}", **query}

    def call(self, method: str, path: str, params: Any = None, **kwargs: Any) -> Any:
        url, query = self._route(path, params)
        try:
            response = self.http.request(method, url, params=query, **kwargs)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise WordPressError(f"WordPress cannot be reached: {exc}", retry=True) from None
        if response.status_code >= 400:
            message, data = _message(response)
            status = response.status_code
            raise WordPressError(message, status, status >= 500 or status in RETRIED, data)
        try:
            return response.json()
        except ValueError:
            raise WordPressError(
                f"{self.base} answered a web page where WordPress's REST API should be: check "
                "that the address is the WordPress site's own and that its REST API is on.",
                retry=True,
            ) from None

    def me(self) -> dict[str, Any]:
        return self.call("GET", "users/me", params={"context": "edit"})

    def media_by_slug(self, slug: str) -> dict[str, Any] | None:
        found = self.call("GET", "media", params={"slug": slug, "context": "edit"})
        return found[0] if found else None

    def upload(self, slug: str, data: bytes, alt: str) -> dict[str, Any]:
        headers = {
            "Content-Disposition": f'attachment; filename="{slug}.png"',
            "Content-Type": "image/png",
        }
        media = self.call("POST", "media", content=data, headers=headers)
        return self.call("POST", f"media/{media['id']}", json={"alt_text": alt})

    def attach(self, media_id: int, post_id: int) -> None:
        """Attach a picture to its post (its parent in the media library)."""
        self.call("POST", f"media/{media_id}", json={"post": post_id})

    def category(self, name: str) -> int:
        """The id of the category with this name, made if there is none."""
        for found in self.call("GET", "categories", params={"search": name, "per_page": 100}):
            if html.unescape(found.get("name", "")) == name:
                return int(found["id"])
        try:
            return int(self.call("POST", "categories", json={"name": name})["id"])
        except WordPressError as exc:
            if exc.data.get("term_id"):  # made meanwhile (or differing only in case)
                return int(exc.data["term_id"])
            raise

    def post_with_marker(self, mark: str) -> dict[str, Any] | None:
        params = {"search": mark, "status": "any", "context": "edit", "per_page": 20}
        for post in self.call("GET", "posts", params=params):
            if f"<!-- {mark} -->" in post.get("content", {}).get("raw", ""):
                return post
        return None

    def save_post(self, post_id: int | None, fields: dict[str, Any]) -> dict[str, Any]:
        if post_id:
            return self.call("POST", f"posts/{post_id}", json=fields)
        return self.call("POST", "posts", json=fields)


def _message(response: httpx.Response) -> tuple[str, Any]:
    """WordPress's own words for a refusal (and its data, e.g. an existing term's id)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("message"):
        text = html.unescape(str(body["message"]))
        code = f" ({body['code']})" if body.get("code") else ""
        return f"WordPress answered {response.status_code}: {text}{code}", body.get("data")
    return f"WordPress answered {response.status_code} {response.reason_phrase}", None
