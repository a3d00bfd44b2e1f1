"""Connection-level limits of a real ``ats serve``: head deadline, head size, connection cap.

Raw sockets, because the point is what a misbehaving client does: connect and send nothing, send
half a request, send 20,000 headers, send garbage. Every answer must still be JSON, and ``/health``
must keep answering while such connections are held open.
"""

from __future__ import annotations

import contextlib
import json
import resource
import select
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from tests.conftest import free_port, running_server, stop_server

HALF_OPEN = 1_100
# What half-open clients have sent: nothing, part of a request line, part of the headers.
PARTIALS = [b"", b"GET /heal", b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "]


@pytest.fixture(scope="module", autouse=True)
def _enough_descriptors() -> None:
    """This test process holds 1,100+ sockets: lift its own soft open-file limit."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < HALF_OPEN + 200:
        pytest.skip(f"open-file hard limit {hard} is too low for {HALF_OPEN} sockets")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """One server with a 1 s head deadline for the tests that do not need their own; its port."""
    url = f"sqlite:///{tmp_path_factory.mktemp('limits')}/ats.db"
    port = free_port()
    with running_server(url, "--header-timeout", "1", port=port):
        yield port


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/ats.db"


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def dial(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def read_to_eof(sock: socket.socket) -> bytes:
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in lines)
    return int(status_line.split()[1]), {k.lower(): v for k, v in fields.items()}, body


def json_error(raw: bytes, status: int, code: str) -> dict[str, Any]:
    got, headers, body = parse(raw)
    assert got == status, raw[:300]
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    error = json.loads(body)
    assert error["code"] == code and isinstance(error["error"], str) and error["error"]
    return dict(error)


def health_seconds(port: int) -> float:
    """One ``GET /health`` on a new connection, as a new client would make it; its duration."""
    started = time.perf_counter()
    with dial(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        raw = read_to_eof(sock)
    elapsed = time.perf_counter() - started
    assert parse(raw)[0] == 200, raw[:300]
    return elapsed


@contextlib.contextmanager
def half_open(port: int, count: int) -> Iterator[list[socket.socket]]:
    socks: list[socket.socket] = []
    try:
        for i in range(count):
            sock = dial(port)
            socks.append(sock)
            if PARTIALS[i % len(PARTIALS)]:
                with contextlib.suppress(OSError):  # already evicted: fine
                    sock.sendall(PARTIALS[i % len(PARTIALS)])
        yield socks
    finally:
        for sock in socks:
            sock.close()


def closed_by_server(socks: list[socket.socket], at_least: int) -> int:
    """How many of ``socks`` the server has closed, waiting up to 10 s for ``at_least``."""
    closed: set[int] = set()
    deadline = time.monotonic() + 10
    while len(closed) < at_least and time.monotonic() < deadline:
        poller = select.poll()
        for i, sock in enumerate(socks):
            if i not in closed:
                poller.register(sock, select.POLLIN | select.POLLHUP | select.POLLERR)
        by_fd = {sock.fileno(): i for i, sock in enumerate(socks)}
        for fd, _ in poller.poll(200):
            closed.add(by_fd[fd])  # nothing was ever sent to these: readable means closed
    return len(closed)


@contextlib.contextmanager
def server_with_file_limit(db_url: str, files: int, *extra: str) -> Iterator[int]:
    """``ats serve`` whose hard open-file limit is ``files`` (the limit it cannot raise)."""
    port = free_port()

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

    cmd = [sys.executable, "-m", "ats", "serve", "--port", str(port), "--database", db_url]
    proc = subprocess.Popen(
        [*cmd, *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=limit
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "ats serve did not answer /health in 30 s"
            time.sleep(0.1)
        yield port
    finally:
        stop_server(proc)


def assert_health_fast(port: int, label: str) -> None:
    """/health on fresh connections, 15 times: the median under 100 ms (figures printed)."""
    times = [health_seconds(port) for _ in range(15)]
    median = statistics.median(times)
    print(
        f"\n/health under {HALF_OPEN} half-open connections ({label}): "
        f"median {median * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"
    )
    assert median < 0.1


@pytest.mark.serial
@pytest.mark.parametrize(
    "extra",
    [(), ("--max-connections", "500")],
    ids=["default-cap", "cap-500-evicts"],
)
def test_health_answers_while_1100_connections_are_half_open(
    tmp_path: Path, extra: tuple[str, ...]
) -> None:
    with running_server(sqlite_url(tmp_path), *extra) as url:
        port = port_of(url)
        with half_open(port, HALF_OPEN) as socks:
            assert_health_fast(port, " ".join(extra) or "default cap")
            if extra:  # the oldest half-open connections made room for the newer ones
                assert closed_by_server(socks, HALF_OPEN - 500) >= HALF_OPEN - 500


@pytest.mark.serial
def test_health_answers_at_a_1024_file_limit(db_url: str) -> None:
    """The reported failure: 1,100 half-open connections against 1,024 descriptors."""
    with server_with_file_limit(db_url, 1024) as port, half_open(port, HALF_OPEN) as socks:
        assert_health_fast(port, "1024 open files, " + db_url.split(":")[0])
        assert closed_by_server(socks, 1) >= 1
        # the database still has descriptors to work with
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            created = c.post("/tasks", json={"title": "still writing"})
            assert created.status_code == 201
            assert c.get(f"/tasks/{created.json()['id']}").status_code == 200


@pytest.mark.serial
@pytest.mark.parametrize("sent", PARTIALS, ids=["nothing", "half-request-line", "half-headers"])
def test_connection_without_complete_headers_is_closed_after_header_timeout(
    limited: int, sent: bytes
) -> None:
    with dial(limited) as sock:
        started = time.monotonic()
        sock.sendall(sent)
        assert read_to_eof(sock) == b""  # closed without an answer
        elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3, elapsed


@pytest.mark.serial
def test_trickling_headers_do_not_extend_the_deadline(limited: int) -> None:
    """Slowloris: a byte every 100 ms keeps sending, and is still cut at the 1 s deadline."""
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 100
    with dial(limited) as sock:
        sock.settimeout(0.1)
        started = time.monotonic()
        closed = False
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
                closed = sock.recv(1) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
            if closed:
                break
        elapsed = time.monotonic() - started
    assert closed and elapsed < 3, elapsed


@pytest.mark.serial
def test_keep_alive_idle_is_not_cut_but_a_slow_next_request_is(limited: int) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with dial(limited) as sock:
        for _ in range(2):
            sock.sendall(request)
            response = b""
            while b'"database"' not in response:
                chunk = sock.recv(65536)
                assert chunk, response
                response += chunk
            assert response.startswith(b"HTTP/1.1 200")
            time.sleep(1.3)  # idle longer than the head deadline: keep-alive's own timeout rules
        sock.sendall(request[:20])
        started = time.monotonic()
        assert read_to_eof(sock) == b""
        assert 0.9 <= time.monotonic() - started < 3


@pytest.mark.parametrize(
    "headers",
    [
        b"".join(b"X-H%d: v\r\n" % i for i in range(20_000)),
        b"".join(b"X-H%d: v\r\n" % i for i in range(101)),
        b"X-Big: " + b"a" * (70 * 1024) + b"\r\n",
        b"X-Huge: " + b"a" * (4 * 1024 * 1024) + b"\r\n",
    ],
    ids=["20000-fields", "101-fields", "70KiB-field", "4MiB-field"],
)
def test_too_many_or_too_large_headers_get_431_json(limited: int, headers: bytes) -> None:
    with dial(limited) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n")
        raw = read_to_eof(sock)  # the answer, then the server closes
    json_error(raw, 431, "too_large")
    assert health_seconds(limited) < 5


def test_headers_within_the_limits_are_served(limited: int) -> None:
    headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 500) for i in range(90))  # 90 fields, 45 KiB
    with dial(limited) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n")
        sock.sendall(headers + b"\r\n")
        assert parse(read_to_eof(sock))[0] == 200


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /health HTTP/1.1 extra\r\n\r\n",
        b"GET /health HTTP/1.1\r\nNo colon here\r\n\r\n",
        bytes.fromhex("16030100a5010000a103035f"),  # a TLS ClientHello on the plain port
    ],
    ids=["garbage", "bad-request-line", "bad-header", "tls-hello"],
)
def test_malformed_http_gets_400_json(limited: int, request_bytes: bytes) -> None:
    with dial(limited) as sock:
        sock.sendall(request_bytes)
        raw = read_to_eof(sock)
    json_error(raw, 400, "invalid")


def test_at_the_cap_with_nothing_to_evict_a_newcomer_gets_503_json(tmp_path: Path) -> None:
    """WebSockets are never evicted: with the cap full of them, a new connection is refused."""
    with running_server(sqlite_url(tmp_path), "--max-connections", "3") as url:
        port = port_of(url)
        ws_url = f"ws://127.0.0.1:{port}/ws?actor_type=agent&actor_id=w"
        with contextlib.ExitStack() as stack:
            sockets = [stack.enter_context(ws_connect(ws_url)) for _ in range(3)]
            for ws in sockets:
                assert json.loads(ws.recv(timeout=10)) == {"type": "connected"}
            sockets[1].send(json.dumps({"type": "subscribe", "id": "s"}))
            assert json.loads(sockets[1].recv(timeout=10)) == {"type": "subscribed", "id": "s"}
            with dial(port) as sock:
                json_error(read_to_eof(sock), 503, "unavailable")
            # the WebSockets are untouched and still deliver events
            sockets[0].close()
            deadline = time.monotonic() + 10
            while True:  # until the closed WebSocket's slot is free
                with contextlib.suppress(httpx.HTTPError), httpx.Client(base_url=url) as c:
                    created = c.post("/tasks", json={"title": "seen"})
                    if created.status_code == 201:
                        break
                assert time.monotonic() < deadline
                time.sleep(0.05)
            event = json.loads(sockets[1].recv(timeout=10))
            assert event["type"] == "task.created" and event["task_id"] == created.json()["id"]
