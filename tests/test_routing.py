"""The route guard (doorstep.routing): the text rule on every parameter, JSON string and
form field; authentication before a body is read; body limits while streaming; slow bodies.

The body tests call the ASGI app directly with a ``receive`` that counts what the server
pulled, so "refused unread" and "stopped at the limit" are facts, not timings.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from doorstep.accounts.models import User
from doorstep.app import create_app
from doorstep.cameras.models import Camera
from doorstep.routing import GuardedRoute
from doorstep.runtime import Runtime
from tests.factories import HTML, csrf_of, make_camera, make_person
from tests.servers import free_port

MIB = 1024 * 1024


class BodyStream:
    """A request body arriving in chunks; counts the chunks the server asked for."""

    def __init__(self, chunks: Iterator[bytes], *, stall_after: bool = False) -> None:
        self.chunks = chunks
        self.stall_after = stall_after
        self.reads = 0
        self.bytes_read = 0
        self._pending = next(self.chunks, None)

    async def receive(self) -> dict[str, Any]:
        import asyncio

        if self._pending is None:
            if self.stall_after:
                await asyncio.sleep(3600)
            return {"type": "http.disconnect"}
        body, self._pending = self._pending, next(self.chunks, None)
        self.reads += 1
        self.bytes_read += len(body)
        more = self._pending is not None or self.stall_after
        return {"type": "http.request", "body": body, "more_body": more}


async def call(
    app: Any, method: str, path: str, headers: dict[str, str], body: BodyStream
) -> tuple[int, dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 443),
        "state": {},
    }
    await app(scope, body.receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(payload)


def json_chunks(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """A syntactically valid JSON document of about ``total`` bytes, in chunks."""
    yield b'{"name": "'
    sent = 0
    while sent < total:
        yield b"a" * chunk
        sent += chunk
    yield b'", "kind": "doorbell", "latitude": 40.0, "longitude": -75.0}'


@pytest.fixture
def app(runtime: Runtime) -> Any:
    return create_app(runtime)


# ---------------------------------------------------------------- the text rule


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        (
            "post",
            "/api/v1/users",
            {"json": {"email": "a@example.org", "display_name": "A\u0000", "password": "x" * 12}},
            "display_name",
        ),
        (
            "post",
            "/api/v1/tokens",
            {"json": {"email": "a\u0000@example.org", "password": "x" * 12}},
            "email",
        ),
        ("get", "/api/v1/transparency/agencies", {"params": {"state": "\u0000"}}, "state"),
        ("get", "/api/v1/transparency/agencies", {"params": {"state": "P\u0007A"}}, "state"),
    ],
)
def test_control_characters_are_refused_anonymously(
    client: TestClient, runtime: Runtime, method: str, path: str, kwargs: Any, field: str
) -> None:
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["message"].startswith(f"{field}: control character")
    assert error["details"]["problems"][0]["field"] == field
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_control_characters_are_refused_when_signed_in(
    client: TestClient, runtime: Runtime
) -> None:
    owner = make_person(runtime)
    body = {"name": "Porch\u0000", "kind": "doorbell", "latitude": 40.0, "longitude": -75.0}
    r = client.post("/api/v1/cameras", json=body, headers=owner.headers)
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("name: control")
    # Nested fields are named by their path.
    batch = {"events": [{"kind": "motion", "started_at": "2026-12-01T00:00:00Z"}] * 2}
    batch["events"] = [dict(batch["events"][0]), {**batch["events"][1], "device_ref": "x\u0001"}]
    cam = make_camera(runtime, owner.user)
    r = client.post(
        f"/api/v1/cameras/{cam.camera.id}/events/batch", json=batch, headers=cam.headers
    )
    assert r.status_code == 422
    assert r.json()["error"]["details"]["problems"][0]["field"] == "events.1.device_ref"
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Camera)) == 1


def test_control_characters_in_a_page_form_are_refused(client: TestClient) -> None:
    page = client.get("/signin", headers=HTML)
    r = client.post(
        "/signin",
        data={"csrf_token": csrf_of(page.text), "email": "a\u0000@x.org", "password": "p"},
        headers=HTML,
    )
    assert r.status_code == 422
    assert "email: control character NUL" in r.text


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        nested = getattr(route, "original_router", None)  # FastAPI keeps included routers
        if nested is not None:
            yield from _api_routes(nested.routes)


def test_every_route_is_guarded(app: Any) -> None:
    routes = list(_api_routes(app.routes))
    assert len(routes) > 100
    unguarded = [r.path for r in routes if not isinstance(r, GuardedRoute)]
    assert unguarded == []


# ---------------------------------------------------------------- bodies


async def test_an_unauthenticated_body_is_refused_unread(app: Any, runtime: Runtime) -> None:
    chunked = {"content-type": "application/json", "transfer-encoding": "chunked"}
    for headers in (chunked, {**chunked, "authorization": "Bearer dsu_not-a-token"}):
        body = BodyStream(json_chunks(5 * MIB))
        status, payload = await call(app, "POST", "/api/v1/cameras", headers, body)
        assert status == 401, payload
        assert body.reads == 0


async def test_a_camera_route_checks_its_token_before_the_body(app: Any, runtime: Runtime) -> None:
    cam = make_camera(runtime, make_person(runtime).user)
    headers = {"content-type": "application/json", "transfer-encoding": "chunked"}
    body = BodyStream(json_chunks(5 * MIB))
    path = f"/api/v1/cameras/{cam.camera.id}/events/batch"
    status, _ = await call(app, "POST", path, {**headers, "authorization": "Bearer nope"}, body)
    assert status == 401 and body.reads == 0


async def test_json_bodies_are_limited_while_streaming(app: Any, runtime: Runtime) -> None:
    owner = make_person(runtime)
    headers = {
        "content-type": "application/json",
        "transfer-encoding": "chunked",
        **owner.headers,
    }
    body = BodyStream(json_chunks(200 * MIB))
    status, payload = await call(app, "POST", "/api/v1/cameras", headers, body)
    assert status == 413 and payload["error"]["code"] == "body_too_large"
    assert payload["error"]["details"]["limit_bytes"] == runtime.settings.max_body_bytes
    # It stopped within one chunk of the limit, not at the end of the 200 MB.
    assert body.bytes_read <= runtime.settings.max_body_bytes + 64 * 1024 + 16


async def test_a_declared_oversized_body_is_refused_unread(app: Any, runtime: Runtime) -> None:
    owner = make_person(runtime)
    headers = {
        "content-type": "application/json",
        "content-length": str(200 * MIB),
        **owner.headers,
    }
    body = BodyStream(json_chunks(200 * MIB))
    status, payload = await call(app, "POST", "/api/v1/cameras", headers, body)
    assert status == 413 and payload["error"]["code"] == "body_too_large"
    assert body.reads == 0


async def test_a_body_that_stops_coming_times_out(app: Any, runtime: Runtime) -> None:
    runtime.settings.body_idle_timeout_s = 0.3
    cam = make_camera(runtime, make_person(runtime).user)
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    headers = {
        "content-type": f"multipart/form-data; boundary={boundary}",
        "content-length": str(90 * MIB),
        **cam.headers,
    }
    body = BodyStream(iter([head, b"\0" * MIB]), stall_after=True)
    started = time.monotonic()
    status, payload = await call(
        app, "POST", f"/api/v1/cameras/{cam.camera.id}/clips", headers, body
    )
    assert status == 408 and payload["error"]["code"] == "body_timeout"
    assert time.monotonic() - started < 30  # the idle timeout ended it, not the client


async def test_a_chunked_clip_upload_stops_at_the_clip_limit(
    app: Any, runtime: Runtime, tmp_path: Path
) -> None:
    runtime.settings.max_clip_bytes = 3 * MIB
    cam = make_camera(runtime, make_person(runtime).user)
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="c.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(300):
            yield b"\1" * MIB

    headers = {
        "content-type": f"multipart/form-data; boundary={boundary}",
        "transfer-encoding": "chunked",
        **cam.headers,
    }
    body = BodyStream(chunks())
    status, payload = await call(
        app, "POST", f"/api/v1/cameras/{cam.camera.id}/clips", headers, body
    )
    assert status == 413 and payload["error"]["code"] == "clip_too_large"
    assert body.bytes_read <= 3 * MIB + 64 * 1024 + MIB + len(head)


# ---------------------------------------------------------------- a real server's memory


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_refusing_a_200_mb_json_body_costs_the_server_little_memory(
    runtime: Runtime, tmp_path: Path
) -> None:
    """The issue's measurement, kept as a test: a real uvicorn process refuses a 200 MB
    JSON body (valid token, chunked) and its resident memory grows by under 20 MB."""
    owner = make_person(runtime)
    port = free_port()
    env = {
        **os.environ,
        "DOORSTEP_DATA_DIR": str(runtime.settings.data_dir),
        "DOORSTEP_DATABASE_URL": runtime.settings.database_url,
        "DOORSTEP_MEDIA_URL": runtime.settings.media_url,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "doorstep", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        # Warm up the route once, so the import and first-request costs are not counted.
        warm = socket.create_connection(("127.0.0.1", port))
        warm.sendall(
            b"GET /api/v1/users/me HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + f"Authorization: Bearer {owner.token}\r\n\r\n".encode()
        )
        while warm.recv(65536):
            pass
        warm.close()
        before = _rss_kib(server.pid)
        conn = socket.create_connection(("127.0.0.1", port))
        conn.sendall(
            b"POST /api/v1/cameras HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {owner.token}\r\n".encode()
            + b"Transfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"a" * MIB
        framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        conn.settimeout(10)
        sent_mib = 0
        try:
            conn.sendall(b'a\r\n{"name": "\r\n')
            for _ in range(200):
                conn.sendall(framed)
                sent_mib += 1
        except OSError:
            pass  # the server answered and closed: the rest was never read
        response = b""
        try:
            while part := conn.recv(65536):
                response += part
        except OSError:
            pass
        conn.close()
        after = _rss_kib(server.pid)
        print(f"rss_growth_kib={after - before} sent_mib={sent_mib}")
        assert response.startswith(b"HTTP/1.1 413"), response[:200]
        assert b"connection: close" in response.lower()
        assert sent_mib < 200, "the server read the whole body instead of closing"
        assert after - before < 20 * 1024, f"RSS grew {(after - before) / 1024:.1f} MiB"
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
