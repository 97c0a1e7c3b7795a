"""Ingest benchmark: local-first motion events per second through the HTTP API, against
the raw bulk insert (COPY) of the same rows in the same run.

The generated cameras' ingest tokens are stored hashed, so this benchmark makes its own:
it creates a fresh PostgreSQL database (``doorstep_bench_ingest`` on the server of
``--db``), migrates it, registers a few hundred cameras with
:func:`doorstep.cameras.registry.register_camera` (keeping their tokens), and serves
:func:`doorstep.app.create_app` with uvicorn in a separate process on 127.0.0.1. The load
comes from httpx (asyncio) in this process: ``POST /api/v1/cameras/{id}/events`` with the
camera's token, one event per request (the API has no batch endpoint), with N concurrent
clients, each level bounded in events and seconds. Then the same rows go in with one
``COPY``. The database is dropped at the end.

Besides the rate it records where the CPU went (server process, this process, the rest
of the machine, which is mostly PostgreSQL) and the same service calls run in-process
without HTTP, so the cost of the HTTP layer and the cost of the unit of work separate.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
import structlog
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from doorstep import migrate
from doorstep.accounts import service as account_service
from doorstep.bench import output
from doorstep.bench.targeting import _percentiles, machine
from doorstep.cameras import device_input as camera_device_input
from doorstep.cameras import events as camera_events
from doorstep.cameras import inbox as camera_inbox
from doorstep.cameras import registry as camera_registry
from doorstep.cameras.models import CameraKind, EventKind, MotionEvent
from doorstep.config import Settings
from doorstep.notify.models import Notification
from doorstep.runtime import Runtime

__all__ = ["run", "summary", "write_results"]

DATABASE = "doorstep_bench_ingest"
KINDS = ("motion", "person", "vehicle", "package", "ding", "other")


@dataclass(frozen=True)
class BenchCamera:
    id: str
    owner_id: str
    token: str


# ---------------------------------------------------------------- the database


def _conninfo(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _recreate(url: str, database: str) -> None:
    with psycopg.connect(_conninfo(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')


def _drop(url: str, database: str) -> None:
    with psycopg.connect(_conninfo(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _register(
    runtime: Runtime, owners: int, cameras: int, rng: np.random.Generator
) -> list[BenchCamera]:
    made: list[BenchCamera] = []
    with runtime.db.transaction() as session:
        users = [
            account_service.create_user(
                session=session,
                actor=None,
                email=f"ingest-{i}@bench.invalid",
                display_name=f"Ingest owner {i}",
                password=uuid.uuid4().hex,
            )
            for i in range(owners)
        ]
        for i in range(cameras):
            owner = users[i % owners]
            camera, token = camera_registry.register_camera(
                session=session,
                owner=owner,
                name=f"Camera {i}",
                kind=CameraKind.doorbell if i % 2 else CameraKind.floodlight,
                latitude=38.9 + float(rng.uniform(-0.05, 0.05)),
                longitude=-77.03 + float(rng.uniform(-0.05, 0.05)),
            )
            made.append(BenchCamera(str(camera.id), str(owner.id), token))
    return made


# ---------------------------------------------------------------- the server


def _serve(database_url: str, data_dir: str, port: int) -> None:
    import uvicorn

    from doorstep.app import create_app

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    runtime = Runtime(Settings(database_url=database_url, data_dir=Path(data_dir)))
    config = uvicorn.Config(
        create_app(runtime), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    uvicorn.Server(config).run()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_ready(base: str, deadline_s: float = 30.0) -> None:
    until = time.monotonic() + deadline_s
    while time.monotonic() < until:
        try:
            httpx.get(f"{base}/api/v1/openapi.json", timeout=2.0)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("the uvicorn server did not start")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


# ---------------------------------------------------------------- the load


def _event(rng: np.random.Generator, now: datetime, n: int, prefix: str) -> dict[str, Any]:
    started = now - timedelta(seconds=float(rng.uniform(60, 3600)))
    kind = KINDS[int(rng.integers(len(KINDS)))]
    ended = started if kind == "ding" else started + timedelta(seconds=float(rng.uniform(4, 60)))
    return {
        "kind": kind,
        "started_at": started.isoformat(),
        "ended_at": ended.isoformat(),
        "device_ref": f"{prefix}-{n}",
    }


async def _load(
    *,
    base: str,
    cameras: Sequence[BenchCamera],
    concurrency: int,
    max_events: int,
    max_s: float,
    rng: np.random.Generator,
    prefix: str,
) -> dict[str, Any]:
    now = datetime.now(UTC)
    plan = [
        (cameras[int(rng.integers(len(cameras)))], _event(rng, now, n, prefix))
        for n in range(max_events)
    ]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    sent: list[tuple[BenchCamera, dict[str, Any]]] = []
    next_index = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30.0) as client:
        started = time.perf_counter()
        deadline = started + max_s

        async def worker() -> None:
            nonlocal next_index
            while next_index < len(plan) and time.perf_counter() < deadline:
                camera, body = plan[next_index]
                next_index += 1
                t0 = time.perf_counter()
                response = await client.post(
                    f"/api/v1/cameras/{camera.id}/events",
                    json=body,
                    headers={"Authorization": f"Bearer {camera.token}"},
                )
                latencies.append(time.perf_counter() - t0)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 201:
                    sent.append((camera, body))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    created = statuses.get(201, 0)
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "created": created,
        "seconds": round(elapsed, 3),
        "events_per_s": round(created / elapsed, 1),
        "latency": _percentiles(latencies),
        "_rows": sent,
    }


async def _load_batched(
    *,
    base: str,
    cameras: Sequence[BenchCamera],
    concurrency: int,
    batch_size: int,
    max_events: int,
    max_s: float,
    rng: np.random.Generator,
    prefix: str,
) -> dict[str, Any]:
    """The batch endpoint: each request carries ``batch_size`` events of one camera."""
    now = datetime.now(UTC)
    plan = [
        (
            cameras[int(rng.integers(len(cameras)))],
            [_event(rng, now, b * batch_size + n, prefix) for n in range(batch_size)],
        )
        for b in range(max(1, max_events // batch_size))
    ]
    latencies: list[float] = []
    created = 0
    next_index = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0) as client:
        started = time.perf_counter()
        deadline = started + max_s

        async def worker() -> None:
            nonlocal next_index, created
            while next_index < len(plan) and time.perf_counter() < deadline:
                camera, events = plan[next_index]
                next_index += 1
                t0 = time.perf_counter()
                response = await client.post(
                    f"/api/v1/cameras/{camera.id}/events/batch",
                    json={"events": events},
                    headers={"Authorization": f"Bearer {camera.token}"},
                )
                latencies.append(time.perf_counter() - t0)
                if response.status_code == 201:
                    created += int(response.json()["created"])

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "batch_size": batch_size,
        "requests": len(latencies),
        "created": created,
        "seconds": round(elapsed, 3),
        "events_per_s": round(created / elapsed, 1),
        "request_latency": _percentiles(latencies),
    }


def _in_process(
    runtime: Runtime, cameras: Sequence[BenchCamera], count: int, rng: np.random.Generator
) -> dict[str, Any]:
    """The route's service calls, one transaction per event, without HTTP (serial)."""
    now = datetime.now(UTC)
    started = time.perf_counter()
    for n in range(count):
        camera_ref = cameras[int(rng.integers(len(cameras)))]
        body = _event(rng, now, n, "inproc")
        with runtime.db.transaction() as session:
            camera = camera_registry.authenticate_camera(
                session=session, camera_id=uuid.UUID(camera_ref.id), token=camera_ref.token
            )
            camera_device_input.find_device_event(
                session=session, camera=camera, device_ref=body["device_ref"]
            )
            event = camera_events.record_device_event(
                session=session,
                camera=camera,
                kind=EventKind(body["kind"]),
                started_at=datetime.fromisoformat(body["started_at"]),
                ended_at=datetime.fromisoformat(body["ended_at"]),
                device_ref=body["device_ref"],
                max_duration_s=runtime.settings.max_clip_duration_s,
            )
            camera_inbox.event_view(event, camera, None)
    elapsed = time.perf_counter() - started
    return {
        "events": count,
        "seconds": round(elapsed, 3),
        "events_per_s": round(count / elapsed, 1),
    }


def _bulk(url: str, rows: Sequence[tuple[BenchCamera, dict[str, Any]]]) -> dict[str, Any]:
    """The same rows with one COPY (other device refs), foreign keys and indexes in place."""
    now = datetime.now(UTC).isoformat()
    lines = "".join(
        "\t".join(
            (
                str(uuid.uuid4()),
                camera.id,
                camera.owner_id,
                body["kind"],
                body["started_at"],
                body["ended_at"],
                "t",
                "bulk-" + body["device_ref"],
                r"\N",
                now,
            )
        )
        + "\n"
        for camera, body in rows
    )
    columns = (
        "id, camera_id, owner_id, kind, started_at, ended_at,"
        " on_device, device_ref, clip_id, created_at"
    )
    with psycopg.connect(url) as conn:
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY motion_events ({columns}) FROM STDIN") as copy,
        ):
            copy.write(lines)
        conn.commit()
        elapsed = time.perf_counter() - started
    return {
        "rows": len(rows),
        "seconds": round(elapsed, 3),
        "rows_per_s": round(len(rows) / elapsed, 1),
    }


# ---------------------------------------------------------------- the run


@output.warnings_only
def run(
    *,
    url: str,
    concurrency: Sequence[int] = (1, 8, 32),
    max_events: int = 6_000,
    max_s: float = 20.0,
    owners: int = 20,
    cameras: int = 300,
    in_process: int = 1_000,
    seed: int = 7,
    database: str = DATABASE,
    keep: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the ingest benchmark on a fresh database on the server of ``url``."""
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    if make_url(url).get_backend_name() != "postgresql":
        raise ValueError("the ingest benchmark needs PostgreSQL (it creates its own database)")
    ingest_url = make_url(url).set(database=database).render_as_string(hide_password=False)
    rng = np.random.default_rng(seed)
    results: dict[str, Any] = {
        "benchmark": "ingest",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    say(f"creating and migrating {database}")
    _recreate(url, database)
    server: multiprocessing.process.BaseProcess | None = None
    runtime: Runtime | None = None
    try:
        migrate.upgrade(ingest_url)
        data_dir = tempfile.mkdtemp(prefix="doorstep-bench-ingest-")
        runtime = Runtime(Settings(database_url=ingest_url, data_dir=Path(data_dir)))
        say(f"registering {cameras} cameras for {owners} owners")
        bench_cameras = _register(runtime, owners, cameras, rng)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = multiprocessing.get_context("spawn").Process(
            target=_serve, args=(ingest_url, data_dir, port), daemon=True
        )
        server.start()
        _wait_ready(base)
        assert server.pid is not None
        results["database"] = {
            "dialect": "postgresql",
            "url": make_url(ingest_url).render_as_string(hide_password=True),
            "owners": owners,
            "cameras": cameras,
        }
        results["server"] = {"uvicorn_workers": 1, "process": "separate (spawn)", "port": port}
        # warm-up: connections, the route's first calls
        warm = asyncio.run(
            _load(
                base=base,
                cameras=bench_cameras,
                concurrency=4,
                max_events=200,
                max_s=10.0,
                rng=rng,
                prefix="warm",
            )
        )
        levels: list[dict[str, Any]] = []
        rows: list[tuple[BenchCamera, dict[str, Any]]] = []
        for level in concurrency:
            say(
                f"HTTP load: {level} concurrent clients"
                f" (at most {max_events:,} events or {max_s:.0f} s)"
            )
            server_cpu, client_cpu, busy = _cpu_s(server.pid), time.process_time(), _machine_busy()
            result = asyncio.run(
                _load(
                    base=base,
                    cameras=bench_cameras,
                    concurrency=level,
                    max_events=max_events,
                    max_s=max_s,
                    rng=rng,
                    prefix=f"c{level}",
                )
            )
            busy_after = _machine_busy()
            cores = os.cpu_count() or 1
            wall = result["seconds"]
            server_s = _cpu_s(server.pid) - server_cpu
            client_s = time.process_time() - client_cpu
            machine_s = (busy_after[0] - busy[0]) / (busy_after[1] - busy[1]) * cores * wall
            result["cpu_s"] = {
                "server_process": round(server_s, 2),
                "load_client": round(client_s, 2),
                "rest_mostly_postgresql": round(max(0.0, machine_s - server_s - client_s), 2),
                "machine_busy_share": round(
                    (busy_after[0] - busy[0]) / (busy_after[1] - busy[1]), 3
                ),
            }
            rows.extend(result.pop("_rows"))
            levels.append(result)
            say(f"  {result['events_per_s']:,} events/s, p99 {result['latency']['p99_ms']} ms")
        results["http"] = levels
        say("HTTP, batch endpoint: 4 clients, 200 events a request")
        batched = asyncio.run(
            _load_batched(
                base=base,
                cameras=bench_cameras,
                concurrency=4,
                batch_size=200,
                max_events=max_events * 4,
                max_s=max_s,
                rng=rng,
                prefix="batch",
            )
        )
        say(f"  {batched['events_per_s']:,} events/s")
        results["batched"] = batched
        server.terminate()
        server.join(10)
        server = None
        say(f"in-process (no HTTP): {in_process:,} events, serial")
        results["in_process"] = _in_process(runtime, bench_cameras, in_process, rng)
        say(f"bulk COPY of the same {len(rows):,} rows")
        results["bulk_copy"] = _bulk(_conninfo(url, database), rows)
        with runtime.db.transaction() as session:
            results["check"] = {
                "motion_events": session.scalar(select(func.count()).select_from(MotionEvent)),
                "notifications": session.scalar(select(func.count()).select_from(Notification)),
                "expected_events": warm["created"]
                + len(rows) * 2
                + in_process
                + batched["created"],
            }
        best = max(levels, key=lambda level: level["events_per_s"])
        results["best_http"] = {
            "concurrency": best["concurrency"],
            "events_per_s": best["events_per_s"],
        }
        results["ratio_bulk_to_batched"] = round(
            results["bulk_copy"]["rows_per_s"] / max(batched["events_per_s"], 0.1), 1
        )
        results["ratio_bulk_to_http"] = round(
            results["bulk_copy"]["rows_per_s"] / best["events_per_s"], 1
        )
        results["goals"] = {
            "at_least_5000_events_per_s_single": best["events_per_s"] >= 5_000,
            "at_least_5000_events_per_s_batched": batched["events_per_s"] >= 5_000,
        }
        return results
    finally:
        if server is not None:
            server.terminate()
            server.join(10)
        if runtime is not None:
            runtime.close()
        if not keep:
            _drop(url, database)
            say(f"dropped {database}")


def write_results(results: dict[str, Any], folder: Path) -> Path:
    return output.write_results("ingest", results, folder)


def summary(results: dict[str, Any]) -> str:
    lines = [
        f"HTTP, {level['concurrency']:>2} clients: {level['events_per_s']:>8,} events/s,"
        f" p50 {level['latency']['p50_ms']} ms, p99 {level['latency']['p99_ms']} ms"
        for level in results["http"]
    ]
    lines.append(
        f"in-process, no HTTP: {results['in_process']['events_per_s']:,} events/s (serial)"
    )
    lines.append(f"bulk COPY:           {results['bulk_copy']['rows_per_s']:,} rows/s")
    batched = results["batched"]
    lines.append(
        f"HTTP batch endpoint: {batched['events_per_s']:,} events/s"
        f" ({batched['concurrency']} clients x {batched['batch_size']} events a request)"
    )
    lines.append(f"bulk / best HTTP:    {results['ratio_bulk_to_http']}x")
    lines.append(f"bulk / batched HTTP: {results['ratio_bulk_to_batched']}x")
    goals = results["goals"]
    for name, label in (("single", "single-event requests"), ("batched", "batch endpoint")):
        met = goals[f"at_least_5000_events_per_s_{name}"]
        lines.append(f"goal >= 5,000 events/s, {label}: {'met' if met else 'NOT met'}")
    return "\n".join(lines)
