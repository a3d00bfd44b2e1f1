"""Web pages the user visits cannot drive the local server (SPEC §10); tools that send no
``Origin`` work as before. Against a real ``ats serve``, and from a real headless Chromium."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from tests.conftest import IN_CI, free_port, running_server

EVIL = "http://evil.example"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/ws"


async def tasks(url: str) -> int:
    async with httpx.AsyncClient(base_url=url) as c:
        return int((await c.get("/tasks")).json()["count"])


async def test_cross_origin_requests_are_refused(server_url: str) -> None:
    async with httpx.AsyncClient(base_url=server_url) as c:
        r = await c.post(
            "/tasks",
            content=b'{"title": "csrf"}',
            headers={"Origin": EVIL, "Content-Type": "text/plain"},
        )
        assert r.status_code == 403 and r.json()["field"] == "Origin", r.text
        r = await c.post("/tasks", json={"title": "csrf"}, headers={"Origin": EVIL})
        assert r.status_code == 403
        r = await c.get("/tasks", headers={"Origin": "null"})
        assert r.status_code == 403
        r = await c.post("/feed/events", json={"agent": "a", "type": "finding", "summary": "s"},
                         headers={"Origin": EVIL})  # fmt: skip
        assert r.status_code == 403
        assert "access-control-allow-origin" not in r.headers
    assert await tasks(server_url) == 0


async def test_foreign_host_is_refused(server_url: str) -> None:
    async with httpx.AsyncClient(base_url=server_url) as c:
        r = await c.get("/tasks", headers={"Host": "evil.example"})
        assert r.status_code == 400 and r.json()["field"] == "Host", r.text
        r = await c.post("/tasks", json={"title": "x"}, headers={"Host": "evil.example:8765"})
        assert r.status_code == 400
        for host in ("localhost", "127.0.0.1", "[::1]", "app.localhost"):
            assert (await c.get("/health", headers={"Host": host})).status_code == 200, host
    assert await tasks(server_url) == 0


async def test_same_origin_json_works_but_not_plain_text(server_url: str) -> None:
    async with httpx.AsyncClient(base_url=server_url) as c:
        r = await c.post("/tasks", json={"title": "mine"}, headers={"Origin": server_url})
        assert r.status_code == 201, r.text
        r = await c.post(
            "/tasks",
            content=b'{"title": "plain"}',
            headers={"Origin": server_url, "Content-Type": "text/plain"},
        )
        assert r.status_code == 400 and r.json()["field"] == "Content-Type"
        # without Origin (curl -d, old clients): a form content type is still read as JSON
        r = await c.post(
            "/tasks",
            content=b'{"title": "curl"}',
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 201, r.text
    assert await tasks(server_url) == 2


async def test_websocket_from_another_origin_is_refused(server_url: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url(server_url), origin=Origin(EVIL)):
            pass
    assert refused.value.response.status_code == 403
    async with connect(ws_url(server_url), origin=Origin(server_url)) as ws:
        assert json.loads(await ws.recv()) == {"type": "connected"}
    async with connect(ws_url(server_url)) as ws:  # no Origin: tools, the Node CLI
        assert json.loads(await ws.recv()) == {"type": "connected"}


async def test_allowed_cors_origin(db_url: str) -> None:
    app_origin = "http://app.example:3000"
    with running_server(db_url, "--cors-origin", app_origin) as url:
        async with httpx.AsyncClient(base_url=url) as c:
            pre = await c.options(
                "/tasks",
                headers={
                    "Origin": app_origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type",
                },
            )
            assert pre.status_code == 200
            assert pre.headers["access-control-allow-origin"] == app_origin
            r = await c.post("/tasks", json={"title": "x"}, headers={"Origin": app_origin})
            assert r.status_code == 201
            assert r.headers["access-control-allow-origin"] == app_origin
            r = await c.post("/tasks", json={"title": "x"}, headers={"Origin": EVIL})
            assert r.status_code == 403


async def test_allowed_host_names(db_url: str) -> None:
    with running_server(db_url, "--allowed-host", "ats.example.com,*.corp.example") as url:
        async with httpx.AsyncClient(base_url=url) as c:
            for host in ("ats.example.com", "a.corp.example", "ATS.example.com:8765"):
                assert (await c.get("/health", headers={"Host": host})).status_code == 200
            assert (
                await c.get("/health", headers={"Host": "corp.example.evil"})
            ).status_code == 400


async def test_hostile_websocket_frames_close_cleanly(server_url: str) -> None:
    deep: object = "x"
    for _ in range(300):
        deep = [deep]
    async with connect(ws_url(server_url)) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "subscribe", "id": deep}))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert "nested deeper" in closed.value.rcvd.reason
    async with connect(ws_url(server_url)) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "subscribe", "id": "s", "since": 10**9}))
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert "beyond the newest event" in closed.value.rcvd.reason
    async with connect(ws_url(server_url)) as ws:  # the server is fine
        assert json.loads(await ws.recv()) == {"type": "connected"}


# --- a real browser ---------------------------------------------------------------------------

ATTACK = """<!doctype html><html><body><script>
window.report = {};
const target = "%(target)s";
fetch(target + "/tasks", {method: "POST", mode: "no-cors",
      headers: {"Content-Type": "text/plain"}, body: JSON.stringify({title: "csrf"})})
  .then(() => { window.report.fetch = "sent"; }, e => { window.report.fetch = "error " + e; });
const ws = new WebSocket(target.replace("http", "ws") + "/ws");
window.report.ws = [];
ws.onopen = () => { window.report.ws.push("open");
  ws.send(JSON.stringify({type: "subscribe", id: "x"})); };
ws.onmessage = m => { window.report.ws.push(m.data); };
ws.onerror = () => { window.report.ws.push("error"); };
ws.onclose = () => { window.report.wsClosed = true; };
</script></body></html>"""


@contextlib.contextmanager
def attacker_site(target: str) -> Iterator[str]:
    page = (ATTACK % {"target": target}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # Another origin: same machine, another port, and a name that is not the server's.
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _chromium_or_skip() -> None:
    if not Path(CHROMIUM).exists():
        message = "Chromium is not installed (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(f"CI=true but {message}")
        pytest.skip(message)


async def test_a_page_on_another_origin_cannot_drive_the_server(server_url: str) -> None:
    _chromium_or_skip()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = await browser.new_page()
            with attacker_site(server_url) as site:
                await page.goto(site)
                await page.wait_for_function("window.report.fetch && window.report.wsClosed",
                                             timeout=15_000)  # fmt: skip
                report = await page.evaluate("window.report")
                # The server's own events would arrive on the socket if it were accepted.
                async with httpx.AsyncClient(base_url=server_url) as c:
                    assert (await c.post("/tasks", json={"title": "real"})).status_code == 201
                await asyncio.sleep(0.5)
                report = await page.evaluate("window.report")
        finally:
            await browser.close()
    assert report["fetch"] == "sent"  # no-cors: the browser sends it and shows nothing
    assert "open" not in report["ws"] and not any("task." in m for m in report["ws"]), report
    async with httpx.AsyncClient(base_url=server_url) as c:
        titles = [t["title"] for t in (await c.get("/tasks")).json()["tasks"]]
    assert titles == ["real"]


def test_node_fetch_without_origin_works(server_url: str) -> None:
    """The original CLI is a Node program: Node's fetch sends no Origin header."""
    node = shutil.which("node")
    if node is None:
        if IN_CI:
            pytest.fail("CI=true but node is not installed")
        pytest.skip("node is not installed")
    script = (
        f"fetch('{server_url}/tasks', {{method: 'POST', headers: {{'Content-Type': "
        "'application/json', 'X-Actor-ID': 'node'}, body: JSON.stringify({title: 'from node'})})"
        ".then(r => r.json().then(b => { console.log(r.status, b.title); }))"
    )
    out = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "201 from node", out.stderr
