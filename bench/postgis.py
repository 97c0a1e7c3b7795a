"""The PostGIS baseline: camera points with a GiST index, ``ST_Covers`` plus the window.

A copy of the camera points (``bench_camera_points``) keeps the product's schema as it
is; the events are read through the migration's own ``(camera_id, started_at)`` index.
``ST_Covers`` rather than ``ST_Within``: targeting counts the area's edge as inside.
``geometry`` rather than ``geography``: targeting reads edges as straight in lon/lat.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any

import shapely
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from bench.requests import MAX_EVENT_S, OwnerList, TargetingRequest
from doorstep.migrations.ddl import POSTGIS_POSITION_INDEX

BASELINE_TABLE = "bench_camera_points"
BASELINE_QUERY = text(
    """
SELECT c.owner_id, c.id
FROM bench_camera_points c
WHERE ST_Covers(ST_GeomFromWKB(:area, 4326), c.position)
  AND c.accepts_requests
  AND EXISTS (
    SELECT 1 FROM motion_events e
    WHERE e.camera_id = c.id
      AND e.started_at >= :earliest_start AND e.started_at < :window_end
      AND (e.ended_at > :window_start OR e.started_at = :window_start)
      AND ((e.clip_id IS NULL AND e.on_device)
           OR EXISTS (SELECT 1 FROM clips k WHERE k.id = e.clip_id AND k.deleted_at IS NULL))
  )
"""
)


def postgis_owners(session: Session, request: TargetingRequest) -> OwnerList:
    rows = session.execute(
        BASELINE_QUERY,
        {
            "area": shapely.to_wkb(request.area),
            "earliest_start": request.window_start - timedelta(seconds=MAX_EVENT_S),
            "window_start": request.window_start,
            "window_end": request.window_end,
        },
    )
    cameras: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for owner_id, camera_id in rows:
        cameras[owner_id].append(camera_id)
    return [(owner, tuple(sorted(ids))) for owner, ids in sorted(cameras.items())]


def setup_postgis(engine: Engine) -> dict[str, Any]:
    """Install the baseline: the extension, the point copy with its GiST index.

    Returns ``{"available": False, "reason": ...}`` where PostGIS cannot be had.
    """
    if engine.dialect.name != "postgresql":
        return {"available": False, "reason": f"{engine.dialect.name}: PostGIS needs PostgreSQL"}
    started = time.perf_counter()
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except DBAPIError as exc:
        return {
            "available": False,
            "reason": f"PostGIS is not installed on this server: {exc.orig}".strip(),
        }
    with engine.begin() as conn:
        version = conn.scalar(text("SELECT postgis_lib_version()"))
        conn.execute(text(f"DROP TABLE IF EXISTS {BASELINE_TABLE}"))
        conn.execute(
            text(
                "CREATE TABLE bench_camera_points AS SELECT id, owner_id, accepts_requests,"
                " ST_SetSRID(ST_MakePoint(exact_longitude, exact_latitude), 4326)"
                "::geometry(Point, 4326) AS position FROM cameras"
            )
        )
        conn.execute(text(f"ALTER TABLE {BASELINE_TABLE} ADD PRIMARY KEY (id)"))
        conn.execute(
            text(
                "CREATE INDEX ix_bench_camera_points_position"
                " ON bench_camera_points USING gist (position)"
            )
        )
        # The product's own PostGIS index, as migration 20261205_0012 builds it where the
        # extension is there: a database migrated before PostGIS came gets it here, so that
        # target_owners can take its PostGIS path. It changes no table.
        conn.execute(text(POSTGIS_POSITION_INDEX))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM (ANALYZE) {BASELINE_TABLE}"))
        # Index-only scans need the visibility map of a freshly loaded table.
        conn.execute(text("VACUUM cameras"))
    return {
        "available": True,
        "version": version,
        "setup_s": round(time.perf_counter() - started, 2),
        "table": BASELINE_TABLE,
        "indexes": [
            "ix_bench_camera_points_position (GiST on geometry(Point, 4326))",
            "ix_cameras_exact_position (the product's: migration 20261205_0012)",
            "ix_motion_events_camera_id_started_at (the migration's own)",
        ],
    }
