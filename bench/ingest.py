"""Ingest at scale: motion events per second through the HTTP API, against a bulk COPY.

    .venv/bin/python -m bench.ingest --db URL [--concurrency 1,8,32] [--max-events 6000]

URL is any database on the PostgreSQL server; the benchmark creates (and at the end
drops, unless --keep) its own database there (doorstep_bench_ingest_<random>, or
--database NAME), registers its own cameras (their
ingest tokens are needed), serves the app with uvicorn in a separate process and sends
local-first events (POST /api/v1/cameras/{id}/events, one event per request: the API has
no batch endpoint) with N concurrent httpx clients, each level bounded in events and
seconds. Then the same rows go in with one COPY. Writes
bench/results/ingest-<UTC timestamp>.json and prints a summary. Method and numbers:
BENCHMARKS.md.

The generated cameras' ingest tokens are stored hashed, so this benchmark makes its own
cameras with :func:`doorstep.cameras.service.register_camera` (keeping their tokens) in
its fresh database, and serves :func:`doorstep.app.create_app` on 127.0.0.1. The load
(:mod:`bench.event_senders`) comes from httpx (asyncio) in this process, with the
camera's token; the baselines are in :mod:`bench.ingest_baselines`.

Besides the rate it records where the CPU went (server process, this process, the rest
of the machine, which is mostly PostgreSQL) and the same service calls run in-process
without HTTP, so the cost of the HTTP layer and the cost of the unit of work separate.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench import agent_outbox, databases, output
from bench.event_senders import BenchCamera, send_batches, send_events
from bench.ingest_baselines import bulk_copy, in_process_events
from bench.ingest_server import start_server
from bench.machine import cpu_s, machine, machine_busy
from doorstep import migrate
from doorstep.accounts import service as account_service
from doorstep.cameras import registry as camera_registry
from doorstep.cameras.models import CameraKind, MotionEvent
from doorstep.config import Settings
from doorstep.notify.models import Notification
from doorstep.runtime import Runtime

__all__ = ["run", "summary", "write_results"]

# The batch endpoint is measured this many times in a run (min / median / max).
BATCH_ROUNDS = 3


# ---------------------------------------------------------------- the database


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


# ---------------------------------------------------------------- the run


def _timed_level(
    *, base: str, server_pid: int, cameras: Sequence[BenchCamera], level: int, **load: Any
) -> dict[str, Any]:
    """One level of concurrent clients, with where the CPU went meanwhile."""
    server_cpu, client_cpu, busy = cpu_s(server_pid), time.process_time(), machine_busy()
    result = asyncio.run(
        send_events(base=base, cameras=cameras, concurrency=level, prefix=f"c{level}", **load)
    )
    busy_after = machine_busy()
    cores = os.cpu_count() or 1
    wall = result["seconds"]
    server_s = cpu_s(server_pid) - server_cpu
    client_s = time.process_time() - client_cpu
    machine_s = (busy_after[0] - busy[0]) / (busy_after[1] - busy[1]) * cores * wall
    result["cpu_s"] = {
        "server_process": round(server_s, 2),
        "load_client": round(client_s, 2),
        "rest_mostly_postgresql": round(max(0.0, machine_s - server_s - client_s), 2),
        "machine_busy_share": round((busy_after[0] - busy[0]) / (busy_after[1] - busy[1]), 3),
    }
    return result


def _http_levels(
    *,
    base: str,
    server_pid: int,
    cameras: Sequence[BenchCamera],
    concurrency: Sequence[int],
    max_events: int,
    max_s: float,
    rng: np.random.Generator,
    say: Callable[[str], None],
) -> tuple[list[dict[str, Any]], list[tuple[BenchCamera, dict[str, Any]]]]:
    """Every level of concurrency in turn; the levels' results and the rows they made."""
    levels: list[dict[str, Any]] = []
    rows: list[tuple[BenchCamera, dict[str, Any]]] = []
    for level in concurrency:
        say(
            f"HTTP load: {level} concurrent clients"
            f" (at most {max_events:,} events or {max_s:.0f} s)"
        )
        result = _timed_level(
            base=base,
            server_pid=server_pid,
            cameras=cameras,
            level=level,
            max_events=max_events,
            max_s=max_s,
            rng=rng,
        )
        rows.extend(result.pop("_rows"))
        levels.append(result)
        say(f"  {result['events_per_s']:,} events/s, p99 {result['latency']['p99_ms']} ms")
    return levels, rows


def _over_http(
    *,
    base: str,
    server_pid: int,
    cameras: Sequence[BenchCamera],
    results: dict[str, Any],
    concurrency: Sequence[int],
    max_events: int,
    max_s: float,
    rng: np.random.Generator,
    say: Callable[[str], None],
) -> tuple[dict[str, Any], list[tuple[BenchCamera, dict[str, Any]]]]:
    """A warm-up, every level of single events, then the batch endpoint (into ``results``);
    the warm-up's result and the rows the levels made."""
    # warm-up: connections, the route's first calls
    warm = asyncio.run(
        send_events(
            base=base,
            cameras=cameras,
            concurrency=4,
            max_events=200,
            max_s=10.0,
            rng=rng,
            prefix="warm",
        )
    )
    results["http"], rows = _http_levels(
        base=base,
        server_pid=server_pid,
        cameras=cameras,
        concurrency=concurrency,
        max_events=max_events,
        max_s=max_s,
        rng=rng,
        say=say,
    )
    rounds = []
    for n in range(BATCH_ROUNDS):
        say(f"HTTP, batch endpoint: 4 clients, 200 events a request (round {n + 1})")
        batch = asyncio.run(
            send_batches(
                base=base,
                cameras=cameras,
                concurrency=4,
                batch_size=200,
                max_events=max_events * 4,
                max_s=max_s,
                rng=rng,
                prefix=f"batch{n}",
            )
        )
        say(f"  {batch['events_per_s']:,} events/s")
        rounds.append(batch)
    # The median round stands for the batch endpoint; every round's events are counted.
    median = sorted(rounds, key=lambda batch: batch["events_per_s"])[len(rounds) // 2]
    rates = [batch["events_per_s"] for batch in rounds]
    results["batched"] = median | {
        "rounds_events_per_s": rates,
        "created": sum(batch["created"] for batch in rounds),
    }
    return warm, rows


def _conclusions(results: dict[str, Any]) -> dict[str, Any]:
    """The best HTTP level, COPY against HTTP, and the goals met."""
    levels, batched, bulk = results["http"], results["batched"], results["bulk_copy"]
    best = max(levels, key=lambda level: level["events_per_s"])
    return {
        "best_http": {"concurrency": best["concurrency"], "events_per_s": best["events_per_s"]},
        "ratio_bulk_to_batched": round(bulk["rows_per_s"] / max(batched["events_per_s"], 0.1), 1),
        "ratio_bulk_to_http": round(bulk["rows_per_s"] / best["events_per_s"], 1),
        "goals": {
            "at_least_1000_events_per_s_single": best["events_per_s"] >= 1_000,
            "at_least_5000_events_per_s_batched": batched["events_per_s"] >= 5_000,
        },
    }


def _check(runtime: Runtime, expected_events: int) -> dict[str, Any]:
    with runtime.db.transaction() as session:
        return {
            "motion_events": session.scalar(select(func.count()).select_from(MotionEvent)),
            "notifications": session.scalar(select(func.count()).select_from(Notification)),
            "expected_events": expected_events,
        }


def _measure(
    *,
    runtime: Runtime,
    ingest_url: str,
    data_dir: str,
    results: dict[str, Any],
    url: str,
    database: str,
    concurrency: Sequence[int],
    max_events: int,
    max_s: float,
    owners: int,
    cameras: int,
    in_process: int,
    agent: tuple[int, int, int],
    rng: np.random.Generator,
    say: Callable[[str], None],
) -> dict[str, Any]:
    say(f"registering {cameras} cameras for {owners} owners")
    bench_cameras = _register(runtime, owners, cameras, rng)
    server, port = start_server(ingest_url, data_dir)
    try:
        assert server.pid is not None
        results["database"] = {
            "dialect": "postgresql",
            "url": make_url(ingest_url).render_as_string(hide_password=True),
            "owners": owners,
            "cameras": cameras,
        }
        results["server"] = {
            "uvicorn_workers": 1,
            "process": "separate (spawn)",
            "port": port,
            # Group commit of single events (DOORSTEP_INGEST_GROUP_WINDOW_MS; 0: off).
            "ingest_group_window_ms": runtime.settings.ingest_group_window_ms,
        }
        warm, rows = _over_http(
            base=f"http://127.0.0.1:{port}",
            server_pid=server.pid,
            cameras=bench_cameras,
            results=results,
            concurrency=concurrency,
            max_events=max_events,
            max_s=max_s,
            rng=rng,
            say=say,
        )
        agent_cameras, agent_events, agent_rounds = agent
        say(f"device outbox: {agent_cameras} cameras x {agent_events} queued events")
        results["agent_outbox"] = agent_outbox.measure(
            base=f"http://127.0.0.1:{port}",
            cameras=bench_cameras[:agent_cameras],
            events_per_camera=agent_events,
            rounds=agent_rounds,
            rng=rng,
            say=say,
        )
    finally:
        server.terminate()
        server.join(10)
    say(f"in-process (no HTTP): {in_process:,} events, serial")
    results["in_process"] = in_process_events(runtime, bench_cameras, in_process, rng)
    say(f"bulk COPY of the same {len(rows):,} rows")
    results["bulk_copy"] = bulk_copy(databases.conninfo(url, database), rows)
    expected = warm["created"] + len(rows) * 2 + in_process + results["batched"]["created"]
    expected += results["agent_outbox"]["created"]
    results["check"] = _check(runtime, expected)
    return results | _conclusions(results)


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
    agent: tuple[int, int, int] = (10, 100, 3),
    seed: int = 7,
    database: str | None = None,
    keep: bool = False,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the ingest benchmark on a fresh database (``database``, or a name of its own)
    on the server of ``url``."""
    say = progress or (lambda message: print(message, file=sys.stderr, flush=True))
    if make_url(url).get_backend_name() != "postgresql":
        raise ValueError("the ingest benchmark needs PostgreSQL (it creates its own database)")
    database = database or databases.scratch_name("ingest")
    rng = np.random.default_rng(seed)
    results: dict[str, Any] = {
        "benchmark": "ingest",
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    say(f"creating and migrating {database}")
    try:
        with databases.scratch_postgres(url, database, keep=keep) as ingest_url:
            migrate.upgrade(ingest_url)
            data_dir = tempfile.mkdtemp(prefix="doorstep-bench-ingest-")
            runtime = Runtime(Settings(database_url=ingest_url, data_dir=Path(data_dir)))
            try:
                return _measure(
                    runtime=runtime,
                    ingest_url=ingest_url,
                    data_dir=data_dir,
                    results=results,
                    url=url,
                    database=database,
                    concurrency=concurrency,
                    max_events=max_events,
                    max_s=max_s,
                    owners=owners,
                    cameras=cameras,
                    in_process=in_process,
                    agent=agent,
                    rng=rng,
                    say=say,
                )
            finally:
                runtime.close()
    finally:
        say(f"kept {database}" if keep else f"dropped {database}")


def write_results(results: dict[str, Any], folder: Path) -> Path:
    return output.write_results("ingest", results, folder)


def summary(results: dict[str, Any]) -> str:
    # Server CPU per event moves far less than the rate when other work shares the cores.
    lines = [
        f"HTTP, {level['concurrency']:>2} clients: {level['events_per_s']:>8,} events/s,"
        f" p50 {level['latency']['p50_ms']} ms, p99 {level['latency']['p99_ms']} ms,"
        f" server CPU {level['cpu_s']['server_process'] * 1000 / max(level['created'], 1):.2f}"
        " ms/event"
        for level in results["http"]
    ]
    lines.append(f"group commit window: {results['server']['ingest_group_window_ms']} ms")
    lines.append(
        f"in-process, no HTTP: {results['in_process']['events_per_s']:,} events/s (serial)"
    )
    lines.append(f"bulk COPY:           {results['bulk_copy']['rows_per_s']:,} rows/s")
    batched = results["batched"]
    lines.append(
        f"HTTP batch endpoint: {batched['events_per_s']:,} events/s median of"
        f" {batched['rounds_events_per_s']}"
        f" ({batched['concurrency']} clients x {batched['batch_size']} events a request)"
    )
    lines.extend(agent_outbox.summary(results["agent_outbox"]))
    lines.append(f"bulk / best HTTP:    {results['ratio_bulk_to_http']}x")
    lines.append(f"bulk / batched HTTP: {results['ratio_bulk_to_batched']}x")
    goals = results["goals"]
    for key, label in (
        ("at_least_1000_events_per_s_single", "goal >= 1,000 events/s, single-event requests"),
        ("at_least_5000_events_per_s_batched", "goal >= 5,000 events/s, batch endpoint"),
    ):
        lines.append(f"{label}: {'met' if goals[key] else 'NOT met'}")
    return "\n".join(lines)


def _three(value: str) -> tuple[int, int, int]:
    first, second, third = (int(part) for part in value.split(","))
    return first, second, third


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        default=os.environ.get("DOORSTEP_BENCH_DB"),
        help="SQLAlchemy URL of a PostgreSQL database on the server (or DOORSTEP_BENCH_DB)",
    )
    parser.add_argument("--concurrency", default="1,8,32", help="client counts, comma-separated")
    parser.add_argument("--max-events", type=int, default=6_000, help="per concurrency level")
    parser.add_argument("--max-s", type=float, default=20.0, help="per concurrency level")
    parser.add_argument("--owners", type=int, default=20)
    parser.add_argument("--cameras", type=int, default=300)
    parser.add_argument("--in-process", type=int, default=1_000, help="events without HTTP")
    parser.add_argument(
        "--agent",
        default="10,100,3",
        help="device outbox: cameras, queued events per camera, rounds (comma-separated)",
    )
    parser.add_argument("--seed", type=int, default=7)
    databases.add_options(parser, "ingest")
    args = output.parse_with_db(parser)
    results = run(
        url=args.db,
        concurrency=[int(c) for c in args.concurrency.split(",")],
        max_events=args.max_events,
        max_s=args.max_s,
        owners=args.owners,
        cameras=args.cameras,
        in_process=args.in_process,
        agent=_three(args.agent),
        seed=args.seed,
        database=args.database,
        keep=args.keep,
    )
    output.report(summary(results), write_results(results, args.out))


if __name__ == "__main__":
    main()
