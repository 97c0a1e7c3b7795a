"""The ingest benchmark's load: local-first motion events sent over HTTP by concurrent
httpx clients (asyncio), one event a request or a batch a request, each run bounded in
events and seconds; latencies and statuses counted."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np

from bench import output

KINDS = ("motion", "person", "vehicle", "package", "ding", "other")


@dataclass(frozen=True)
class BenchCamera:
    id: str
    owner_id: str
    token: str


def random_event(rng: np.random.Generator, now: datetime, n: int, prefix: str) -> dict[str, Any]:
    """An event body that started in the last hour, its device ref ``<prefix>-<n>``."""
    started = now - timedelta(seconds=float(rng.uniform(60, 3600)))
    kind = KINDS[int(rng.integers(len(KINDS)))]
    ended = started if kind == "ding" else started + timedelta(seconds=float(rng.uniform(4, 60)))
    return {
        "kind": kind,
        "started_at": started.isoformat(),
        "ended_at": ended.isoformat(),
        "device_ref": f"{prefix}-{n}",
    }


async def send_events(
    *,
    base: str,
    cameras: Sequence[BenchCamera],
    concurrency: int,
    max_events: int,
    max_s: float,
    rng: np.random.Generator,
    prefix: str,
) -> dict[str, Any]:
    """One event a request from ``concurrency`` clients until ``max_events`` or ``max_s``;
    the rows made travel back under ``_rows``."""
    now = datetime.now(UTC)
    plan = [
        (cameras[int(rng.integers(len(cameras)))], random_event(rng, now, n, prefix))
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
        "latency": output.percentiles(latencies),
        "_rows": sent,
    }


async def send_batches(
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
            [random_event(rng, now, b * batch_size + n, prefix) for n in range(batch_size)],
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
        "request_latency": output.percentiles(latencies),
    }
