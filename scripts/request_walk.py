"""Walk one footage request, from the officer's route to the owner's notice, and list the
product files it runs through.

    PYTHONPATH=. .venv/bin/python scripts/request_walk.py

It builds a small world on a fresh SQLite file (an agency, an officer with two-factor
sign-in, an owner whose camera recorded a clip in the window), then traces three steps:
the officer drafts the request (``POST /api/v1/requests``), sends it
(``POST /api/v1/requests/{id}/submit``: policy, activation, targeting, outbox), and the
worker delivers the owner's notice. Every file of ``src/doorstep`` whose code runs in
those steps is counted, once.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from fastapi.testclient import TestClient
from tests.factories import (
    make_agency,
    make_camera,
    make_officer,
    make_person,
    request_body,
    sample_clip,
    set_policy,
    upload_clip,
)

from doorstep.app import create_app
from doorstep.config import Settings
from doorstep.db import utcnow
from doorstep.migrate import upgrade
from doorstep.notify.worker import Worker
from doorstep.runtime import Runtime

PRODUCT = (Path(__file__).resolve().parent.parent / "src" / "doorstep").as_posix()
LAT, LNG = 39.9526, -75.1652


def traced(step: Callable[[], Any], seen: set[str]) -> Any:
    """Run ``step`` with every thread's calls recorded by file."""

    def profile(frame: FrameType, event: str, _arg: object) -> None:
        if event == "call":
            name = frame.f_code.co_filename
            if name.startswith(PRODUCT):
                seen.add(name[len(PRODUCT) + 1 :])

    threading.setprofile(profile)  # type: ignore[arg-type]
    sys.setprofile(profile)  # type: ignore[arg-type]
    try:
        return step()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="doorstep-walk-"))
    url = f"sqlite:///{folder / 'walk.db'}"
    upgrade(url)
    settings = Settings(
        data_dir=folder / "data",
        database_url=url,
        media_url=f"file://{folder / 'media'}",
        base_url="https://testserver",
        worker_backoff_base_s=0.0,
        worker_backoff_max_s=0.0,
    )
    runtime = Runtime(settings)
    # Not entered as a context manager: each request then runs its app in threads started
    # after the profiler is set, so the routes' code is traced too.
    client = TestClient(create_app(runtime), base_url="https://testserver")
    officer = make_officer(runtime, make_agency(runtime, lat=LAT, lng=LNG))
    owner = make_person(runtime)
    camera = make_camera(runtime, owner.user, latitude=LAT, longitude=LNG)
    clip = sample_clip(folder)
    upload_clip(client, camera, clip, started_at=utcnow() - timedelta(hours=2))
    set_policy(runtime, moderator_review=False)
    worker = Worker(runtime)
    worker.drain()  # the upload's own jobs, before the walk

    steps: dict[str, set[str]] = defaultdict(set)
    body = request_body(LAT, LNG)
    r = traced(
        lambda: client.post("/api/v1/requests", headers=officer.headers, json=body),
        steps["draft"],
    )
    assert r.status_code == 201, r.text
    request_id = r.json()["id"]
    r = traced(
        lambda: client.post(f"/api/v1/requests/{request_id}/submit", headers=officer.headers),
        steps["submit"],
    )
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    traced(worker.drain, steps["notice"])
    inbox = client.get("/api/v1/inbox/requests", headers=owner.headers).json()
    assert request_id in str(inbox), "the owner has no notice"
    runtime.close()

    every: set[str] = set().union(*steps.values())
    print(f"files a footage request runs through: {len(every)}")
    for name, files in steps.items():
        print(f"  {name}: {len(files)}")
    by_package: dict[str, list[str]] = defaultdict(list)
    for name in sorted(every):
        package = name.split("/")[0] if "/" in name else "(core)"
        by_package[package].append(name)
    for package, files in sorted(by_package.items()):
        print(f"  {package} ({len(files)}): {' '.join(files)}")


if __name__ == "__main__":
    main()
