"""Motion events and clips as rows, for the tests of the event partitions and their
migration (tests/cameras/test_partitions.py, tests/test_online_partitions.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text

from doorstep.cameras.models import Clip, MotionEvent
from doorstep.media.kinds import EventKind
from tests.factories import CameraWithToken


def event(camera: CameraWithToken, started_at: datetime, **over: Any) -> MotionEvent:
    values: dict[str, Any] = {
        "camera_id": camera.camera.id,
        "owner_id": camera.camera.owner_id,
        "kind": EventKind.motion,
        "started_at": started_at,
        "ended_at": started_at + timedelta(seconds=30),
        "on_device": True,
    }
    return MotionEvent(**(values | over))


def clip(camera: CameraWithToken, started_at: datetime) -> Clip:
    return Clip(
        camera_id=camera.camera.id,
        owner_id=camera.camera.owner_id,
        started_at=started_at,
        ended_at=started_at + timedelta(seconds=30),
        storage_key=None,
        thumbnail_key=None,
        sha256="0" * 64,
        size_bytes=1,
        duration_s=30.0,
        width=640,
        height=480,
        codec="h264",
    )


EVENT_COLUMNS = (
    "id, camera_id, owner_id, kind, started_at, ended_at, on_device, device_ref, clip_id,"
    " created_at"
)


def event_rows(url: str) -> set[tuple[Any, ...]]:
    """Every row of ``motion_events`` at ``url``."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                tuple(row)
                for row in conn.execute(text(f"SELECT {EVENT_COLUMNS} FROM motion_events"))
            }
    finally:
        engine.dispose()
