"""The default deployment (SQLite, the in-process worker, one uvicorn process) under
ordinary concurrency: people reading while cameras upload.

A real server on a real socket: the stall this guards against came from blocking calls on
the event loop and write transactions held across them, which an in-process test client
would not show.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from tests.conftest import make_settings
from tests.factories import make_camera, make_person, sample_clip

from doorstep.app import create_app
from doorstep.cameras.models import Clip, MotionEvent
from doorstep.db import utcnow
from doorstep.runtime import Runtime

# SQLite's busy timeout (db.py): a request that waits this long for the lock has failed.
BUSY_TIMEOUT_S = 15.0


@dataclass
class Served:
    runtime: Runtime
    url: str


@pytest.fixture
def served(tmp_path: Path, sqlite_template: Path) -> Iterator[Served]:
    """The app on SQLite with its in-process worker, served by uvicorn on 127.0.0.1."""
    db_path = tmp_path / "doorstep.db"
    shutil.copy(sqlite_template, db_path)
    runtime = Runtime(make_settings(tmp_path, f"sqlite:///{db_path}"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(runtime, run_worker=True),
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield Served(runtime, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        runtime.close()


@dataclass
class Outcome:
    status: int
    seconds: float
    started: float
    finished: float


@dataclass
class Recorder:
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def call(self, send: callable) -> None:  # type: ignore[valid-type]
        started = time.monotonic()
        try:
            status = send().status_code
        except httpx.HTTPError as exc:  # a timeout or a dropped connection is a failure too
            with self.lock:
                self.errors.append(repr(exc))
            return
        finished = time.monotonic()
        with self.lock:
            self.outcomes.append(Outcome(status, finished - started, started, finished))


def test_readers_keep_answering_while_cameras_upload(served: Served, tmp_path: Path) -> None:
    """Two people reload their profile while five unauthenticated and three valid clip
    uploads arrive at once: nothing answers 5xx, every upload gets its proper answer,
    and no read waits as long as the database's busy timeout."""
    runtime = served.runtime
    resident = make_person(runtime)
    cam = make_camera(runtime, resident.user)
    clip = sample_clip(tmp_path / "clips", seconds=2.0, width=320, height=240).read_bytes()
    started_at = (utcnow() - timedelta(minutes=5)).isoformat()
    clips_url = f"/api/v1/cameras/{cam.camera.id}/clips"

    reads, uploads = Recorder(), Recorder()
    stop_reading = threading.Event()

    def reader() -> None:
        with httpx.Client(base_url=served.url, timeout=60) as http:
            while not stop_reading.is_set():
                reads.call(lambda: http.get("/api/v1/users/me", headers=resident.headers))

    def upload(n: int, headers: dict[str, str]) -> None:
        with httpx.Client(base_url=served.url, timeout=60) as http:
            uploads.call(
                lambda: http.post(
                    clips_url,
                    headers=headers,
                    data={"started_at": started_at, "kind": "motion", "device_ref": f"sd:/{n}"},
                    files={"file": ("clip.mp4", clip, "video/mp4")},
                )
            )

    readers = [threading.Thread(target=reader) for _ in range(2)]
    for t in readers:
        t.start()
    time.sleep(0.3)  # the readers are in their loop before the uploads arrive
    senders = [threading.Thread(target=upload, args=(n, {})) for n in range(5)] + [
        threading.Thread(target=upload, args=(n, cam.headers)) for n in range(5, 8)
    ]
    for t in senders:
        t.start()
    for t in senders:
        t.join(timeout=120)
    uploads_done = time.monotonic()
    stop_reading.set()
    for t in readers:
        t.join(timeout=120)

    assert not reads.errors and not uploads.errors, (reads.errors, uploads.errors)
    assert sorted(o.status for o in uploads.outcomes) == [201] * 3 + [401] * 5
    assert all(o.status == 200 for o in reads.outcomes), sorted({o.status for o in reads.outcomes})
    first_upload = min(o.started for o in uploads.outcomes)
    during = [o for o in reads.outcomes if o.finished > first_upload and o.started < uploads_done]
    # The readers were answered while the uploads were in flight, never held for as long
    # as a request may wait for the lock before failing.
    assert during, "no read was answered while the uploads were in flight"
    slowest = max(o.seconds for o in reads.outcomes)
    assert slowest < BUSY_TIMEOUT_S, f"a read waited {slowest:.1f} s"
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Clip)) == 3
        assert session.scalar(select(func.count()).select_from(MotionEvent)) == 3
