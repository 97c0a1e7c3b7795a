"""The ingest benchmark's baselines, the same events without HTTP: the route's service
calls run serially in this process, and the rows the HTTP clients made written again with
one ``COPY``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg

from bench.event_senders import BenchCamera, random_event
from doorstep.cameras import events as camera_events
from doorstep.cameras import inbox as camera_inbox
from doorstep.cameras import registry as camera_registry
from doorstep.media.kinds import EventKind
from doorstep.runtime import Runtime


def in_process_events(
    runtime: Runtime, cameras: Sequence[BenchCamera], count: int, rng: np.random.Generator
) -> dict[str, Any]:
    """The route's service calls, one transaction per event, without HTTP (serial)."""
    now = datetime.now(UTC)
    started = time.perf_counter()
    for n in range(count):
        camera_ref = cameras[int(rng.integers(len(cameras)))]
        body = random_event(rng, now, n, "inproc")
        with runtime.db.transaction() as session:
            camera = camera_registry.authenticate_camera(
                session=session, camera_id=uuid.UUID(camera_ref.id), token=camera_ref.token
            )
            event = camera_events.report_device_event(
                session=session,
                camera=camera,
                kind=EventKind(body["kind"]),
                started_at=datetime.fromisoformat(body["started_at"]),
                ended_at=datetime.fromisoformat(body["ended_at"]),
                device_ref=body["device_ref"],
                max_duration_s=runtime.settings.max_clip_duration_s,
                alert_window_s=runtime.settings.event_alert_window_s,
            ).event
            camera_inbox.event_view(event, camera, None)
    elapsed = time.perf_counter() - started
    return {
        "events": count,
        "seconds": round(elapsed, 3),
        "events_per_s": round(count / elapsed, 1),
    }


def bulk_copy(url: str, rows: Sequence[tuple[BenchCamera, dict[str, Any]]]) -> dict[str, Any]:
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
