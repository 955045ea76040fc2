"""Real receivers on loopback: an HTTP server that records webhook deliveries (and answers as a
test tells it), and an SMTP server that records mail."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.servers import free_port


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, self.headers.get("x-cascade-signature", ""))


@dataclass
class WebhookReceiver:
    """POSTs to http://127.0.0.1:<port>/hook are recorded; `answers` are the statuses of the
    next requests (200 once they run out). `down()` closes the port, `up()` opens it again."""

    port: int = field(default_factory=free_port)
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.received.append(Received(headers, body))
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def events(self) -> list[str]:
        return [r.headers["x-cascade-event"] for r in self.received]


class MailReceiver:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[dict[str, Any]] = []
        self.port = free_port()
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                receiver.messages.append(
                    {
                        "from": envelope.mail_from,
                        "to": list(envelope.rcpt_tos),
                        "data": envelope.content.decode("utf8", errors="replace"),
                    }
                )
                return "250 Message accepted for delivery"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> MailReceiver:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()


class RawReceiver:
    """A receiver that misbehaves on purpose, on a raw socket: `behave(connection)` is called
    for each connection once its request head has arrived. `release` ends stalling behaviours;
    `sent` counts the bytes behaviours wrote; `seen` counts connections."""

    def __init__(self, behave: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        import socket

        self.behave, self.host = behave, host
        self.release = threading.Event()
        self.sent = 0
        self.seen = 0
        self.finished = 0
        self._listener = socket.create_server((host, port))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: Any) -> None:
        with connection:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                head += chunk
            self.seen += 1
            try:
                self.behave(self, connection)
            except OSError:
                pass  # the caller hung up, as it should
            finally:
                self.finished += 1

    def write(self, connection: Any, data: bytes) -> None:
        connection.sendall(data)
        self.sent += len(data)

    def close(self) -> None:
        self.release.set()
        self._listener.close()


def stall(receiver: RawReceiver, connection: Any) -> None:
    receiver.release.wait(300)


def drip(receiver: RawReceiver, connection: Any) -> None:
    """A byte every 0.2 s: each read is quick, the answer never ends."""
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000:
        if receiver.release.wait(0.2):
            return
        receiver.write(connection, bytes([byte]))


def huge(receiver: RawReceiver, connection: Any) -> None:
    """A 64 MiB answer, in JSON as a REST API would send it."""
    size = 64 * 2**20
    head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
    receiver.write(connection, head.encode())
    block = b" " * 65536
    for _ in range(size // len(block)):
        receiver.write(connection, block)


def redirect_to(location: str) -> Any:
    def behave(receiver: RawReceiver, connection: Any) -> None:
        head = (
            f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n"
        )
        receiver.write(connection, head.encode())

    return behave
