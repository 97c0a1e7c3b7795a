"""Mixed load: residents' reads while cameras upload real clips, through a real uvicorn server.

    .venv/bin/python -m bench.mixed_load --db sqlite|postgres [--readers 8] [--uploaders 4] \\
        [--duration 30] [--pg-url URL]

Makes a fresh database (a SQLite file, or doorstep_bench_mixed_<random> or --database NAME
on the server of --pg-url, dropped at the end unless --keep), residents with an API token, a
home, a camera and a timeline of events, published posts in their feed, and camera owners
whose devices upload. The app runs in a separate uvicorn process (bench.servers.Servers).
Each reader is a thread polling GET /api/v1/users/me, the timeline (GET /api/v1/events) and
the feed (GET /api/v1/feed) in turn, one request at a time, for --duration seconds idle,
then for --duration seconds while each uploader thread sends PyAV-made MP4s to POST
/api/v1/cameras/{id}/clips back to back. Reported: the reads' p50/p99 idle and under upload,
their ratio (same run), uploads done, and every 5xx (reads, uploads, and unhandled errors in
the server's log). Goal: p99 under upload within 3x of idle, and no 5xx. Writes
bench/results/mixed-<db>-<UTC timestamp>.json. Method: BENCHMARKS.md. """

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench import databases, output
from bench.machine import machine
from bench.servers import Servers
from doorstep.accounts import api_tokens
from doorstep.accounts import service as account_service
from doorstep.cameras import events as camera_events
from doorstep.cameras import registry as camera_registry
from doorstep.cameras.models import CameraKind
from doorstep.config import Settings
from doorstep.db import utcnow
from doorstep.feed import homes
from doorstep.feed import service as feed_service
from doorstep.feed.models import Category
from doorstep.media.kinds import EventKind
from doorstep.media.samples import write_sample_clip
from doorstep.migrate import upgrade
from doorstep.runtime import Runtime

PG_URL = os.environ.get(
    "DOORSTEP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CENTRE = (39.9526, -75.1652)
READS = ("/api/v1/users/me", "/api/v1/events?limit=20", "/api/v1/feed?limit=20")
GOAL_RATIO = 3.0


@dataclass
class Device:
    camera_id: uuid.UUID
    token: str


@dataclass
class Scene:
    reader_tokens: list[str]
    devices: list[Device]


def _setup(runtime: Runtime, *, readers: int, uploaders: int, seed: int) -> Scene:
    rng = np.random.default_rng(seed)
    lat, lng = CENTRE
    now = utcnow()
    tokens: list[str] = []
    devices: list[Device] = []
    with runtime.db.transaction() as session:
        for i in range(readers + uploaders):
            user = account_service.create_user(
                session=session,
                actor=None,
                email=f"mixed-{i}@bench.invalid",
                display_name=f"Neighbour {i}",
                password=uuid.uuid4().hex,
            )
            here = (lat + rng.uniform(-0.005, 0.005), lng + rng.uniform(-0.005, 0.005))
            camera, camera_token = camera_registry.register_camera(
                session=session,
                owner=user,
                name="Front door",
                kind=CameraKind.doorbell,
                latitude=here[0],
                longitude=here[1],
            )
            if i >= readers:
                devices.append(Device(camera_id=camera.id, token=camera_token))
                continue
            _row, token = api_tokens.create_api_token(session=session, user=user, name="mixed")
            tokens.append(token)
            homes.set_home(session=session, owner=user, latitude=here[0], longitude=here[1])
            # A timeline worth paging: 200 events over the last days.
            camera_events.record_device_events(
                session=session,
                camera=camera,
                events=[
                    camera_events.DeviceEventSpec(
                        kind=EventKind.motion,
                        started_at=now - timedelta(minutes=30 * (n + 1)),
                        ended_at=now - timedelta(minutes=30 * (n + 1)) + timedelta(seconds=20),
                        device_ref=f"bench:{n}",
                    )
                    for n in range(200)
                ],
                max_duration_s=runtime.settings.max_clip_duration_s,
                alert_window_s=runtime.settings.event_alert_window_s,
            )
            for n in range(5):
                post = feed_service.create_post(
                    session=session,
                    author=user,
                    category=Category.safety,
                    title=f"Notice {n} from neighbour {i}",
                    body="A fence was knocked over on the corner overnight; mind the boards.",
                    person=None,
                    latitude=here[0],
                    longitude=here[1],
                )
                feed_service.mark_published(session=session, post=post)
    return Scene(reader_tokens=tokens, devices=devices)


@dataclass
class Samples:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, latency_ms: float | None, status: int | None, error: str | None = None) -> None:
        with self.lock:
            if latency_ms is not None:
                self.latencies_ms.append(latency_ms)
            if status is not None:
                self.statuses[status] += 1
            if error is not None:
                self.errors[error] += 1

    def summary(self) -> dict[str, Any]:
        values = sorted(self.latencies_ms)
        return {
            "requests": len(values),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "server_errors": sum(v for k, v in self.statuses.items() if k >= 500),
            "transport_errors": dict(self.errors),
            "p50_ms": round(statistics.median(values), 2) if values else None,
            "p99_ms": round(float(np.percentile(values, 99)), 2) if values else None,
            "max_ms": round(values[-1], 2) if values else None,
        }


def _read_loop(base: str, token: str, stop: threading.Event, samples: Samples) -> None:
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=60.0
    ) as client:
        n = 0
        while not stop.is_set():
            path = READS[n % len(READS)]
            n += 1
            started = time.perf_counter()
            try:
                answer = client.get(path)
            except httpx.HTTPError as exc:
                samples.add(None, None, type(exc).__name__)
                continue
            samples.add((time.perf_counter() - started) * 1000, answer.status_code)


def _upload_loop(
    base: str, device: Device, clips: list[Path], stop: threading.Event, samples: Samples
) -> None:
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {device.token}"}, timeout=120.0
    ) as client:
        n = 0
        while not stop.is_set():
            clip = clips[n % len(clips)]
            started_at = utcnow() - timedelta(minutes=5, seconds=n)
            n += 1
            started = time.perf_counter()
            try:
                with clip.open("rb") as fh:
                    answer = client.post(
                        f"/api/v1/cameras/{device.camera_id}/clips",
                        data={"started_at": started_at.isoformat(), "kind": "motion"},
                        files={"file": (clip.name, fh, "video/mp4")},
                    )
            except httpx.HTTPError as exc:
                samples.add(None, None, type(exc).__name__)
                continue
            samples.add((time.perf_counter() - started) * 1000, answer.status_code)


def _phase(
    base: str,
    scene: Scene,
    clips: list[Path],
    *,
    duration_s: float,
    uploads: bool,
) -> dict[str, Any]:
    stop = threading.Event()
    reads, sent = Samples(), Samples()
    threads = [
        threading.Thread(target=_read_loop, args=(base, token, stop, reads))
        for token in scene.reader_tokens
    ]
    if uploads:
        threads += [
            threading.Thread(target=_upload_loop, args=(base, device, clips, stop, sent))
            for device in scene.devices
        ]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    time.sleep(duration_s)
    stop.set()
    for thread in threads:
        thread.join(180)
    # Requests in flight at the stop count too: a phase lasts until the last one answered.
    elapsed = time.perf_counter() - started
    result: dict[str, Any] = {"seconds": round(elapsed, 2), "reads": reads.summary()}
    result["reads"]["per_s"] = round(result["reads"]["requests"] / elapsed, 1)
    if uploads:
        result["uploads"] = sent.summary()
        result["uploads"]["per_s"] = round(result["uploads"]["requests"] / elapsed, 2)
    return result


def _error_lines(log: str) -> list[str]:
    """The distinct last lines of the server's tracebacks (the exception and its message)."""
    found: list[str] = []
    lines = log.splitlines()
    for n, line in enumerate(lines):
        if line.startswith("Traceback"):
            rest = lines[n + 1 :]
            end = next((i for i, x in enumerate(rest) if x and not x[0].isspace()), None)
            if end is not None and rest[end][:200] not in found:
                found.append(rest[end][:200])
    return found


def _measure(
    servers: Servers, scene: Scene, clips: list[Path], duration_s: float
) -> dict[str, Any]:
    """The reads idle, then under uploads; their p99 ratio, every 5xx, and the goals."""
    httpx.get(f"{servers.base}/api/v1/users/me", timeout=30.0)  # warm the app up
    idle = _phase(servers.base, scene, clips, duration_s=duration_s, uploads=False)
    loaded = _phase(servers.base, scene, clips, duration_s=duration_s, uploads=True)
    log = servers.read_log()
    p99_idle, p99_load = idle["reads"]["p99_ms"], loaded["reads"]["p99_ms"]
    ratio = round(p99_load / p99_idle, 2) if p99_idle and p99_load else None
    unhandled = log.count("Traceback")
    server_errors = (
        idle["reads"]["server_errors"]
        + loaded["reads"]["server_errors"]
        + loaded["uploads"]["server_errors"]
    )
    return {
        "idle": idle,
        "under_upload": loaded,
        "p99_ratio": ratio,
        "server_unhandled_errors": unhandled,
        "server_error_samples": _error_lines(log),
        "server_errors": server_errors,
        "goals": {
            "p99_within_3x": ratio is not None and ratio <= GOAL_RATIO,
            "no_5xx": server_errors == 0 and unhandled == 0,
        },
    }


@output.warnings_only
def run(
    *,
    db: str,
    pg_url: str = PG_URL,
    readers: int = 8,
    uploaders: int = 4,
    duration_s: float = 30.0,
    clip_seconds: float = 4.0,
    seed: int = 7,
    data_dir: Path | None = None,
    database: str | None = None,
    keep: bool = False,
) -> dict[str, Any]:
    """Set up, start uvicorn, measure reads idle and under uploads; returns the figures."""
    folder = data_dir or Path(tempfile.mkdtemp(prefix="doorstep-bench-mixed-"))
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "benchmark": "mixed",
        "started_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "database": db,
        "readers": readers,
        "uploaders": uploaders,
        "duration_s": duration_s,
        "reads": list(READS),
        "clip": {"seconds": clip_seconds, "size": "320x240", "fps": 10, "codec": "h264 (PyAV)"},
    }
    name = database or databases.scratch_name("mixed")
    servers: Servers | None = None
    runtime: Runtime | None = None
    try:
        with databases.scratch_database(
            db, folder=folder, pg_url=pg_url, name=name, keep=keep
        ) as database_url:
            try:
                upgrade(database_url)
                runtime = Runtime(Settings(database_url=database_url, data_dir=folder))
                scene = _setup(runtime, readers=readers, uploaders=uploaders, seed=seed)
                runtime.db.dispose()
                clips = [
                    write_sample_clip(folder / f"clip-{n}.mp4", seconds=clip_seconds, seed=n)
                    for n in range(8)
                ]
                results["clip"]["bytes"] = clips[0].stat().st_size
                servers = Servers(database_url, str(folder), workers=1)
                results |= _measure(servers, scene, clips, duration_s)
            finally:
                if servers is not None:
                    servers.stop()
                if runtime is not None:
                    runtime.close()
    finally:
        if data_dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    return results


def write_results(results: dict[str, Any], folder: Path) -> Path:
    return output.write_results(f"mixed-{results['database']}", results, folder)


def summary(results: dict[str, Any]) -> str:
    idle, loaded = results["idle"]["reads"], results["under_upload"]["reads"]
    uploads = results["under_upload"]["uploads"]
    goals = results["goals"]
    return "\n".join(
        [
            f"mixed load on {results['database']}: {results['readers']} readers, "
            f"{results['uploaders']} uploaders, {results['duration_s']:.0f} s per phase",
            f"reads idle:         {idle['requests']:>6} ({idle['per_s']}/s) "
            f"p50 {idle['p50_ms']} ms p99 {idle['p99_ms']} ms",
            f"reads under upload: {loaded['requests']:>6} ({loaded['per_s']}/s) "
            f"p50 {loaded['p50_ms']} ms p99 {loaded['p99_ms']} ms",
            f"uploads: {uploads['requests']} ({uploads['statuses']}), p50 {uploads['p50_ms']} ms",
            f"p99 ratio {results['p99_ratio']} (goal <= {GOAL_RATIO:.0f}x: "
            f"{'met' if goals['p99_within_3x'] else 'NOT met'}); 5xx {results['server_errors']}, "
            f"unhandled in log {results['server_unhandled_errors']} "
            f"(goal 0: {'met' if goals['no_5xx'] else 'NOT met'})",
            *(f"  server: {line}" for line in results["server_error_samples"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pg-url", default=PG_URL, help="any database on the server")
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--uploaders", type=int, default=4)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per phase")
    parser.add_argument("--clip-seconds", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=7)
    databases.add_options(parser, "mixed")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    results = run(
        db=args.db,
        pg_url=args.pg_url,
        database=args.database,
        keep=args.keep,
        readers=args.readers,
        uploaders=args.uploaders,
        duration_s=args.duration,
        clip_seconds=args.clip_seconds,
        seed=args.seed,
    )
    path = write_results(results, args.out)
    print(summary(results))
    print(f"results: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
