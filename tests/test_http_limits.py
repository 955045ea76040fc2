"""What one client may hold of `cascade serve`, tried on the real server over raw sockets: a
chunked body (which declares no length) is refused with 413 as soon as it passes its limit, not
after being received whole; a declared one over the limit before a byte of it is read; a
connection that sends half a request head is closed; a chunked body within the limit works."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from cascade.accounts.models import Site
from tests.servers import Server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(tmp_path):
    with Server(
        log=tmp_path / "serve.log", CASCADE_HEADER_TIMEOUT="1", CASCADE_BODY_TIMEOUT="2"
    ) as running:
        yield running


def answer_of(connection: socket.socket) -> bytes:
    answer = b""
    while True:
        try:
            chunk = connection.recv(65536)
        except (ConnectionResetError, TimeoutError):
            break
        if not chunk:
            break
        answer += chunk
        if b"\r\n\r\n" in answer and answer.split(b"\r\n\r\n", 1)[1]:
            break
    return answer


def send_chunked(server: Server, path: str, total: int, headers: str = "") -> tuple[bytes, int]:
    """POST `total` bytes in 64 KiB chunks while reading the answer; the answer and how many
    bytes had been sent when it came (the sender stops when the server hangs up)."""
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    connection.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        f"Content-Type: application/json\r\n{headers}\r\n".encode()
    )
    sent = 0
    answered = threading.Event()

    def send() -> None:
        nonlocal sent
        block = b"x" * 65536
        chunk = f"{len(block):x}\r\n".encode() + block + b"\r\n"
        try:
            while sent < total and not answered.is_set():
                connection.sendall(chunk)
                sent += len(block)
            connection.sendall(b"0\r\n\r\n")
        except OSError:
            pass

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    answer = answer_of(connection)
    at_answer = sent
    answered.set()
    sender.join(30)
    connection.close()
    return answer, at_answer


def test_a_chunked_body_over_the_limit_is_refused_as_it_arrives(server):
    answer, sent = send_chunked(server, "/login/", 1024 * 2**20)  # 1 GiB, anonymously
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"at most 2 MiB" in answer
    assert sent < 64 * 2**20, sent  # far from all of it was taken

    api, sent = send_chunked(server, "/api/v1/sites/1/keywords/", 64 * 2**20)
    assert api.startswith(b"HTTP/1.1 413"), api[:200]
    detail = json.loads(api.split(b"\r\n\r\n", 1)[1])["detail"]
    assert "at most 8 MiB" in detail  # the import's own limit


def test_a_declared_length_over_the_limit_is_refused_before_the_body(server):
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    connection.sendall(
        b"POST /api/v1/sites/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1073741824\r\nExpect: 100-continue\r\n\r\n"
    )
    answer = answer_of(connection)  # no byte of the body was sent
    connection.close()
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"1024.0 MiB" in answer and b"at most 2 MiB" in answer


def test_a_chunked_body_within_the_limit_is_read(server, alice, token_for, garden):
    body = json.dumps({"name": "Chunked Garden", "account_id": garden.pk}).encode()
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    half = len(body) // 2
    connection.sendall(
        b"POST /api/v1/sites/ HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        + f"Content-Type: application/json\r\nAuthorization: Bearer {token_for(alice)}\r\n\r\n".encode()
        + f"{half:x}\r\n".encode()
        + body[:half]
        + f"\r\n{len(body) - half:x}\r\n".encode()
        + body[half:]
        + b"\r\n0\r\n\r\n"
    )
    answer = answer_of(connection)
    connection.close()
    assert answer.split(b" ", 2)[1] in (b"200", b"201"), answer[:300]
    assert Site.objects.filter(name="Chunked Garden", account=garden).exists()


def test_a_half_sent_request_head_is_not_held(server):
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    assert connection.recv(1024) == b""  # closed by the server (CASCADE_HEADER_TIMEOUT 1 s)
    connection.close()
    whole = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    whole.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert answer_of(whole).startswith(b"HTTP/1.1 200")
    whole.close()


def test_a_request_head_over_16_kib_is_refused(server):
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    connection.sendall(
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"y" * 20000 + b"\r\n\r\n"
    )
    answer = answer_of(connection)
    connection.close()
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]


def test_a_request_with_both_lengths_is_refused(server):
    """Content-Length and Transfer-Encoding together (a way to smuggle a second request past a
    proxy that reads the other one) are refused, and the connection closed."""
    answer, sent = send_chunked(server, "/login/", 256 * 2**20, headers="Content-Length: 5\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert b"not both" in answer and sent < 64 * 2**20, sent


def test_a_body_that_stops_coming_is_not_held(server):
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    connection.sendall(
        b"POST /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n\r\nusername=a"
    )
    assert connection.recv(1024) == b""  # closed by the server (CASCADE_BODY_TIMEOUT 2 s)
    connection.close()
