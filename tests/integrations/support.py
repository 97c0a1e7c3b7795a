"""Helpers for the device-side tests: a live doorstep server that can go down and come
back, Frigate's HTTP API serving real MP4s, a Mosquitto we may restart, Frigate payloads.
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session

from doorstep.accounts.models import Role
from doorstep.app import create_app
from doorstep.cameras.models import MotionEvent
from doorstep.footage.models import Evidence
from doorstep.runtime import Runtime
from tests.factories import make_agency, make_officer, make_person, request_body

LAT, LNG = 39.9526, -75.1652
SYSTEM_BROKER = ("127.0.0.1", 1883)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    check: Callable[[], Any],
    *,
    timeout_s: float = 15.0,
    every_s: float = 0.1,
    what: str = "condition",
) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(every_s)


async def async_wait_until(
    check: Callable[[], Any],
    *,
    timeout_s: float = 15.0,
    every_s: float = 0.1,
    what: str = "condition",
) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(every_s)


# ---------------------------------------------------------------- doorstep


class LiveServer:
    """The app served by uvicorn in a thread, on one port across stop() and start()."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.app = create_app(runtime)
        # Every HTTP request the server saw, as (method, path), to count them.
        self.requests: list[tuple[str, str]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._reader: Engine | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        config = uvicorn.Config(
            self._recorded,
            interface="asgi3",
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        self._server = server = uvicorn.Server(config)
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    async def _recorded(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests.append((scope["method"], scope["path"]))
        await self.app(scope, receive, send)

    def posts(self, camera_id: uuid.UUID, path: str) -> int:
        """How many POSTs reached the camera's ``path`` (e.g. ``events/batch``)."""
        return self.requests.count(("POST", f"/api/v1/cameras/{camera_id}/{path}"))

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        if self._reader is not None:
            self._reader.dispose()
            self._reader = None
        self._server.should_exit = True
        self._thread.join(timeout=15)
        assert not self._thread.is_alive(), "the test server did not stop"
        self._server = self._thread = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only look at the server's database. Not ``runtime.db.transaction()``:
        its BEGIN IMMEDIATE, polled, would starve the server's own writers of the lock."""
        if self._reader is None:
            self._reader = create_engine(self.runtime.settings.resolved_database_url())
        with Session(self._reader, expire_on_commit=False) as session:
            yield session

    def events(self, camera_id: uuid.UUID) -> list[MotionEvent]:
        with self.reading() as session:
            rows = session.scalars(
                select(MotionEvent)
                .where(MotionEvent.camera_id == camera_id)
                .order_by(MotionEvent.created_at)
            )
            return list(rows)

    def evidence(self, evidence_id: uuid.UUID) -> Evidence | None:
        with self.reading() as session:
            return session.get(Evidence, evidence_id)


class LoseFirstAnswer(httpx.BaseTransport):
    """Delivers the request to the real server, then drops its first answer (a timeout)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if self.lost == 0 and request.method == "POST":
            response.read()
            self.lost += 1
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return response


def share_events(server: LiveServer, owner: Any, event_ids: list[str]) -> list[dict[str, Any]]:
    """An officer asks for footage around the camera and the owner shares these events;
    returns the owner's shared items (the local-first ones wait for the device)."""
    runtime = server.runtime
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    moderator = make_person(runtime, role=Role.moderator)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        r = http.post("/api/v1/requests", headers=officer.headers, json=request_body(LAT, LNG))
        assert r.status_code == 201, r.text
        request_id = r.json()["id"]
        r = http.post(f"/api/v1/requests/{request_id}/submit", headers=officer.headers)
        assert r.status_code == 200, r.text
        if r.json()["status"] == "pending_review":
            r = http.post(
                f"/api/v1/requests/{request_id}/review",
                headers=moderator.headers,
                json={"approve": True, "note": "Meets the guidelines"},
            )
            assert r.status_code == 200, r.text
        r = http.post(
            f"/api/v1/inbox/requests/{request_id}/share",
            headers=owner.headers,
            json={"event_ids": event_ids},
        )
        assert r.status_code == 200, r.text
        shared: list[dict[str, Any]] = r.json()
        return shared


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- Frigate


_CLIP_PATH = re.compile(r"^/api/([^/]+)/start/([0-9.]+)/end/([0-9.]+)/clip\.mp4$")


@dataclass
class FakeFrigate:
    """Frigate's recordings export, GET /api/<camera>/start/<ts>/end/<ts>/clip.mp4, serving
    one real MP4; ``fail_next`` answers 503 to that many requests first."""

    clip: Path
    url: str = ""
    requests: list[tuple[str, float, float]] = field(default_factory=list)
    fail_next: int = 0

    def start(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                match = _CLIP_PATH.match(self.path)
                if match is None:
                    self._reply(404, b'{"success": false, "message": "not found"}')
                    return
                if fake.fail_next > 0:
                    fake.fail_next -= 1
                    self._reply(503, b"busy")
                    return
                fake.requests.append((match[1], float(match[2]), float(match[3])))
                self._reply(200, fake.clip.read_bytes(), "video/mp4")

            def _reply(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# ---------------------------------------------------------------- MQTT brokers


class OwnBroker:
    """A Mosquitto of our own, with persistence, that a test may stop and start again."""

    def __init__(self, folder: Path) -> None:
        self.binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            # Run as whoever runs the tests: as root, Mosquitto would otherwise switch to
            # its own user, which cannot write to pytest's temporary folders.
            f"user {getpass.getuser()}\n"
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"persistence true\npersistence_location {folder}/\n"
            f"log_dest file {folder}/mosquitto.log\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)])
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("mosquitto did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """A clean stop: Mosquitto writes its sessions and queued messages to disk."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


def frigate_review(
    review_id: str,
    camera: str,
    kind: str,
    *,
    start: float,
    end: float | None,
    severity: str = "alert",
    objects: list[str] | None = None,
    zones: list[str] | None = None,
) -> dict[str, Any]:
    """A ``frigate/reviews`` message shaped as Frigate documents and publishes it."""
    objects = objects if objects is not None else ["person"]
    detections = [f"{start + i:.6f}-det{i:03d}" for i in range(len(objects))]

    def item(end_time: float | None) -> dict[str, Any]:
        return {
            "id": review_id,
            "camera": camera,
            "start_time": start,
            "end_time": end_time,
            "severity": severity,
            "thumb_path": f"/media/frigate/clips/review/thumb-{camera}-{review_id}.webp",
            "data": {
                "detections": detections,
                "objects": objects,
                "sub_labels": [],
                "zones": zones or [],
                "audio": [],
            },
        }

    before = item(None)
    after = item(end if kind == "end" else None)
    return {"type": kind, "before": before, "after": after}


def review_id(start: float) -> str:
    return f"{start:.6f}-{uuid.uuid4().hex[:6]}"


def hours_ago(hours: float) -> float:
    return time.time() - hours * 3600
