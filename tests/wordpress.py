"""The real WordPress of `scripts/test-services`, seen from the tests: its address and
application password, a client that looks at what Cascade made there, a second server of the
same site that a test may stop and start, and a proxy that holds WordPress's answer to a new
post (to kill a worker between WordPress making the post and Cascade storing its id)."""

from __future__ import annotations

import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.servers import free_port

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class WordPress:
    def __init__(self) -> None:
        self.url = os.environ["CASCADE_TEST_WORDPRESS_URL"]
        self.user = os.environ["CASCADE_TEST_WORDPRESS_USER"]
        self.password = os.environ["CASCADE_TEST_WORDPRESS_APP_PASSWORD"]
        self.ctl = os.environ["CASCADE_TEST_WORDPRESS_CTL"]
        self.http = httpx.Client(auth=(self.user, self.password), timeout=30)

    def get(self, path: str, **params):
        response = self.http.get(f"{self.url}/wp-json/wp/v2/{path}", params=params)
        response.raise_for_status()
        return response.json()

    def posts_marked(self, mark: str) -> list[dict]:
        found = self.get("posts", search=mark, status="any", context="edit", per_page=50)
        return [p for p in found if f"<!-- {mark} -->" in p["content"]["raw"]]

    def media_named(self, slug: str) -> list[dict]:
        return self.get("media", slug=slug, context="edit")

    def server(self, port: int, action: str, **env: str) -> None:
        """Start or stop a further server of the site; CASCADE_WP_PERMALINKS="plain" makes it
        serve the site as one without pretty permalinks (the REST API only at ?rest_route=)."""
        subprocess.run(
            [self.ctl, action, "--port", str(port)],
            check=True,
            timeout=60,
            env=dict(os.environ, **env),
        )


@pytest.fixture
def wordpress(settings) -> WordPress:
    """The test WordPress; missing under CI=true is a failure, elsewhere a skip."""
    if not os.environ.get("CASCADE_TEST_WORDPRESS_URL"):
        message = "the test WordPress is not set up: run scripts/test-services"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    settings.CASCADE_PUBLISH_ALLOW_PRIVATE = True  # it lives on loopback
    settings.CASCADE_PUBLISH_BACKOFF = 0.05
    wp = WordPress()
    yield wp
    wp.http.close()


@pytest.fixture
def plain_wordpress(wordpress):
    """A further server of the test WordPress that serves it as a site with plain permalinks."""
    port = free_port()
    wordpress.server(port, "start", CASCADE_WP_PERMALINKS="plain")
    yield f"http://127.0.0.1:{port}"
    wordpress.server(port, "stop")


@pytest.fixture
def own_wordpress(wordpress):
    """A further server of the test WordPress on a port of this test's own, to stop and start."""
    port = free_port()
    wordpress.server(port, "start")
    yield port
    wordpress.server(port, "stop")


class HoldingProxy:
    """Passes requests to WordPress; the answer to the first new post is held until `release`
    (WordPress has made the post by then; the client has not heard of it)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.created = threading.Event()
        self.released = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _pass(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                answer = httpx.request(
                    self.command,
                    proxy.upstream + self.path,
                    headers=headers,
                    content=body,
                    timeout=30,
                )
                if self.command == "POST" and self.path.rstrip("/").endswith("/wp/v2/posts"):
                    if not proxy.created.is_set():
                        proxy.created.set()
                        proxy.released.wait(60)
                        self.close_connection = True
                        return  # the answer never reaches the client
                self.send_response(answer.status_code)
                for k, v in answer.headers.items():
                    if k.lower() not in HOP_HEADERS | {"content-encoding"}:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_DELETE = _pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
