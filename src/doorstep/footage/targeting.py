"""Targeting: which owners a footage request reaches.

A request reaches the owners of cameras that stand inside its area, accept
requests, and saw something in its window. Finding them is two steps: an
indexed query on H3 cells (``cameras.index_cell``) and motion events
(``camera_id, started_at``) that can only return too many cameras, never too
few; then an exact shapely check that drops the extra ones. Only cameras in
cells that straddle the area's edge need the exact check.

Privacy: exact positions are read here only to decide containment. Nothing
this module returns carries a position, and the caller gets owners, not
places.

This reads the cameras' tables directly, not through the camera service: the
query has to be one indexed statement, and the architecture keeps targeting
behind this one function so PostgreSQL may swap in PostGIS here later.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import h3
import shapely
import structlog
from h3.api import basic_int as h3_int
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity
from sqlalchemy import (
    BigInteger,
    Connection,
    Row,
    Select,
    Uuid,
    and_,
    any_,
    bindparam,
    exists,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from doorstep import geo
from doorstep.cameras.models import Camera, Clip, MotionEvent
from doorstep.db import UTCDateTime
from doorstep.errors import InvalidInput

log = structlog.get_logger(__name__)

# How far (in degrees) the cell search reaches past the area's edge, and how far inside it
# a cell must stay to skip the exact check. What it absorbs: H3 cell edges are geodesic
# while shapely's are straight in lon/lat, and latlng_to_cell rounds near edges. At
# resolution 9 both are under a millimetre; 1e-5° (about 1 m of latitude, 0.3 m of
# longitude even at 72°) leaves a wide margin and costs only a few more exact checks.
SAFETY_MARGIN_DEG = 1e-5
# Cells per statement: well under SQLite's bound-parameter limit (32,766) and small enough
# for PostgreSQL to plan quickly. A 50 km circle (~75,000 cells) takes 16 statements.
CELLS_PER_QUERY = 5_000
CAMERAS_PER_QUERY = 5_000
# Policy keeps requests far smaller (half a square mile by default); this bound only stops
# a mistake upstream from asking H3 for millions of cells and pinning a worker for minutes.
# 10,000 km² is about 95,000 cells, a second or two of work; a 50 km circle fits.
MAX_AREA_KM2 = 10_000.0


@dataclass(frozen=True)
class TargetOwner:
    """One owner a request reaches, with his cameras that qualified (sorted)."""

    owner_id: uuid.UUID
    camera_ids: tuple[uuid.UUID, ...]


# ---------------------------------------------------------------- cells


def _check_area(area: BaseGeometry) -> None:
    if not isinstance(area, Polygon | MultiPolygon):
        raise InvalidInput("The area must be a polygon or multipolygon.", code="invalid_geometry")
    if area.is_empty or not area.is_valid:
        raise InvalidInput(
            f"The area is not a valid shape: {explain_validity(area)}.", code="invalid_geometry"
        )
    # shapely reads an edge from 179° to -179° as crossing the globe, H3 as crossing the
    # antimeridian (it does so for any edge spanning more than 180° of longitude): they
    # would disagree on what is inside. Like the rest of doorstep, targeting takes the
    # planar reading and refuses the edges H3 would read otherwise.
    for ring in _rings(area):
        if any(abs(b[0] - a[0]) >= 180.0 for a, b in pairwise(ring)):
            raise InvalidInput(
                "The area may not cross the antimeridian or span half the globe.",
                code="area_too_large",
            )
    if geo.area_m2(area) > MAX_AREA_KM2 * 1e6:
        raise InvalidInput(
            f"The area is larger than {MAX_AREA_KM2:,.0f} km².", code="area_too_large"
        )


def _rings(area: BaseGeometry) -> Iterator[Sequence[tuple[float, float]]]:
    polygons = area.geoms if isinstance(area, MultiPolygon) else [area]
    for polygon in polygons:
        yield polygon.exterior.coords
        for hole in polygon.interiors:
            yield hole.coords


def _cell_polygons(cells: Sequence[int]) -> list[BaseGeometry]:
    """Cells as planar lon/lat polygons, built in one vectorized call."""
    coords: list[tuple[float, float]] = []
    indices: list[int] = []
    for i, cell in enumerate(cells):
        # Most cells have 6 vertices; those crossing an icosahedron edge have more.
        for lat, lng in h3_int.cell_to_boundary(cell):
            coords.append((lng, lat))
            indices.append(i)
    rings = shapely.linearrings(coords, indices=indices)
    return list(shapely.polygons(rings))


def area_cells(area: BaseGeometry) -> tuple[set[int], set[int]]:
    """The index cells (``geo.INDEX_RESOLUTION``, as integers) a search of ``area`` must read.

    Returns ``(interior, boundary)``, disjoint. The guarantees targeting rests on:

    - Nothing is missed: every point the area covers lies in a cell of one of the two
      sets. The search uses H3's "overlap" containment on the area grown by
      ``SAFETY_MARGIN_DEG``, so a point on the area's edge, or one that
      ``latlng_to_cell`` rounds into the neighbouring cell, is still found; the cells of
      the area's own vertices are added too, because H3 calls that mode experimental.
    - Interior cells need no exact check: each cell's polygon is covered by the area
      shrunk by the same margin, so any point H3 files under it is inside the area. Cells
      that are not exactly nested in their parents or that wrap the antimeridian simply
      fail that test and land in ``boundary``: a wrong guess only costs an exact check.
    - Boundary cells may hold points outside the area (and some may hold none inside);
      their cameras must be checked with shapely.

    Edges are straight lines in lon/lat, as for shapely and ``geo.contains_point``; H3's
    polygon fill reads them the same way (not as great circles, which at 60° latitude
    would bow ~85 m off a 50 km edge). Refuses (``InvalidInput``) what is not a valid
    polygon, has an edge spanning 180° of longitude or more, or exceeds ``MAX_AREA_KM2``.
    """
    _check_area(area)
    # Mitred joins keep the vertex count of the area; outwards they still reach every
    # point within the margin, inwards they stay at least the margin inside.
    grown = area.buffer(SAFETY_MARGIN_DEG, join_style="mitre")
    cells = set(
        h3_int.h3shape_to_cells_experimental(
            h3.geo_to_h3shape(grown), geo.INDEX_RESOLUTION, contain="overlap"
        )
    )
    for ring in _rings(area):
        for lng, lat in ring:
            cells.add(geo.cell_of(lat, lng, geo.INDEX_RESOLUTION))

    shrunk = area.buffer(-SAFETY_MARGIN_DEG, join_style="mitre")
    if shrunk.is_empty:
        return set(), cells
    ordered = sorted(cells)
    shapely.prepare(shrunk)
    covered = shapely.covers(shrunk, _cell_polygons(ordered))
    interior = {cell for cell, inside in zip(ordered, covered, strict=True) if inside}
    return interior, cells - interior


# ---------------------------------------------------------------- query


def _one_of(column: Any, name: str, item_type: Any, postgres: bool) -> Any:
    """``column IN (the values of parameter name)``. On PostgreSQL, one array parameter
    (``= ANY(:name)``): the SQL text stays the same whatever the count, so the driver
    prepares it once and the server neither parses nor plans it again per request (an
    ``IN`` list of 200 values cost more than the index scan it asks for). Elsewhere an
    expanding ``IN``."""
    if postgres:
        return column == any_(bindparam(name, type_=postgresql.ARRAY(item_type)))
    return column.in_(bindparam(name, expanding=True))


def _cameras_in_cells_statement(
    postgres: bool,
) -> Select[uuid.UUID, uuid.UUID, int, float, float]:
    return select(
        Camera.id,
        Camera.owner_id,
        Camera.index_cell,
        Camera.exact_longitude,
        Camera.exact_latitude,
    ).where(
        _one_of(Camera.index_cell, "cells", BigInteger, postgres),
        Camera.accepts_requests.is_(True),
    )


def _cameras_with_footage_statement(postgres: bool) -> Select[uuid.UUID]:
    live_footage = or_(
        and_(MotionEvent.clip_id.is_(None), MotionEvent.on_device.is_(True)),
        exists().where(Clip.id == MotionEvent.clip_id, Clip.deleted_at.is_(None)),
    )
    # The first qualifying event of this camera, as a correlated scalar subquery with
    # LIMIT 1 rather than EXISTS: PostgreSQL turns EXISTS into a semi-join and, on small
    # or freshly loaded tables, may read every event of the window instance-wide before
    # looking at cameras. This shape keeps the plan that scales on both databases: per
    # camera, one probe of (camera_id, started_at) that stops at the first hit.
    first_event = (
        select(MotionEvent.id)
        .where(
            MotionEvent.camera_id == Camera.id,
            MotionEvent.started_at >= bindparam("earliest_start", type_=UTCDateTime),
            MotionEvent.started_at < bindparam("window_end", type_=UTCDateTime),
            # An event ending exactly at the start is outside the window, except an instant
            # one (a doorbell ring has ended_at == started_at) that happened at the start.
            or_(
                MotionEvent.ended_at > bindparam("window_start", type_=UTCDateTime),
                MotionEvent.started_at == bindparam("window_start", type_=UTCDateTime),
            ),
            live_footage,
        )
        .limit(1)
        .correlate(Camera)
        .scalar_subquery()
    )
    return select(Camera.id).where(
        _one_of(Camera.id, "camera_ids", Uuid, postgres), first_event.is_not(None)
    )


# Built once per dialect: building these expressions cost more per request than running them.
_CAMERAS_IN_CELLS = {pg: _cameras_in_cells_statement(pg) for pg in (False, True)}
_CAMERAS_WITH_FOOTAGE = {pg: _cameras_with_footage_statement(pg) for pg in (False, True)}


def cameras_in_cells(*, cells: Iterable[int]) -> Select[uuid.UUID, uuid.UUID, int, float, float]:
    """Cameras standing in ``cells`` that accept requests.

    Rows are ``(camera id, owner id, index cell, longitude, latitude)``. Every column is in
    ``ix_cameras_targeting``, which leads with ``index_cell``: PostgreSQL answers from the
    index alone (an index-only scan), without visiting a scattered table row per camera.
    """
    return _CAMERAS_IN_CELLS[False].params(cells=sorted(cells))


def _footage_params(
    camera_ids: Iterable[uuid.UUID],
    window_start: datetime,
    window_end: datetime,
    max_event_s: float,
) -> dict[str, Any]:
    return {
        "camera_ids": sorted(camera_ids, key=_as_int),
        "earliest_start": window_start - timedelta(seconds=max_event_s),
        "window_start": window_start,
        "window_end": window_end,
    }


def cameras_with_footage(
    *,
    camera_ids: Iterable[uuid.UUID],
    window_start: datetime,
    window_end: datetime,
    max_event_s: float,
) -> Select[uuid.UUID]:
    """Of ``camera_ids``, the cameras with live footage in the window.

    The lower bound on ``started_at`` (no event lasts longer than ``max_event_s``) lets
    ``ix_motion_events_camera_id_started_at`` read only the events near the window rather
    than a camera's whole history. An event counts if its footage still exists: kept on the
    device (no clip), or a clip not deleted.
    """
    return _CAMERAS_WITH_FOOTAGE[False].params(
        _footage_params(camera_ids, window_start, window_end, max_event_s)
    )


def _check_window(window_start: datetime, window_end: datetime, max_event_s: float) -> None:
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise InvalidInput("Times need a time zone (e.g. 2026-11-29T12:00:00Z).", code="naive_time")
    if window_end <= window_start:
        raise InvalidInput("The window ends before it starts.", code="invalid_window")
    if not (math.isfinite(max_event_s) and max_event_s > 0):
        raise ValueError("max_event_s must be a positive number of seconds")


def target_owners(
    *,
    session: Session,
    area: BaseGeometry,
    window_start: datetime,
    window_end: datetime,
    excluded_owner_ids: Collection[uuid.UUID] = (),
    max_event_s: float = 600.0,
) -> list[TargetOwner]:
    """The owners a request for ``area`` and ``[window_start, window_end)`` reaches.

    Guarantees: exactly the owners (not in ``excluded_owner_ids``) of cameras whose exact
    position the area covers (its edge counts as inside, its holes do not), that accept
    requests, and that have at least one event with live footage overlapping the window
    (``started_at < window_end`` and ``ended_at > window_start``, or an instant event at
    ``window_start``; events whose clip was deleted do not count). Each owner appears once,
    with his qualifying cameras; owners and cameras are sorted by id so the same data
    always gives the same list.

    ``max_event_s`` must be at least the longest event the instance accepts
    (``Settings.max_clip_duration_s``); an event longer than that which starts before
    ``window_start - max_event_s`` would be missed. Read-only: the caller writes
    recipients in its own transaction.
    """
    _check_window(window_start, window_end, max_event_s)
    interior, boundary = area_cells(area)
    cells = sorted(interior | boundary)
    excluded = set(excluded_owner_ids)

    # Core execution on the session's connection: the rows are plain tuples, no ORM work.
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    rows = _cameras_in_cells(connection, postgres, cells, excluded)
    to_check = [row for row in rows if row[2] not in interior]
    inside = {row[0] for row in rows if row[2] in interior} | _covered(area, to_check)
    probe = sorted(inside, key=_as_int)
    cameras_by_owner = _cameras_with_footage(
        connection,
        postgres,
        probe,
        {row[0]: row[1] for row in rows},
        window_start,
        window_end,
        max_event_s,
    )
    log.info(
        "footage.targeted",
        cells=len(cells),
        boundary_cells=len(boundary),
        candidates=len(rows),
        exact_checks=len(to_check),
        probed=len(probe),
        owners=len(cameras_by_owner),
    )
    # Sorted by the ids' integers: the same order as comparing UUIDs, without a Python-level
    # comparison method per step (a third of the time at 10,000 owners).
    return [
        TargetOwner(owner_id=owner_id, camera_ids=tuple(sorted(camera_ids, key=_as_int)))
        for owner_id, camera_ids in sorted(cameras_by_owner.items(), key=_first_as_int)
    ]


_CameraRow = Row[uuid.UUID, uuid.UUID, int, float, float]  # camera, owner, cell, lng, lat


def _cameras_in_cells(
    connection: Connection, postgres: bool, cells: list[int], excluded: set[uuid.UUID]
) -> list[_CameraRow]:
    """1. The cameras in the cells that accept requests (one index-only scan per chunk),
    but for the excluded owners'."""
    rows: list[_CameraRow] = []
    for i in range(0, len(cells), CELLS_PER_QUERY):
        rows.extend(
            connection.execute(
                _CAMERAS_IN_CELLS[postgres], {"cells": cells[i : i + CELLS_PER_QUERY]}
            )
        )
    return [row for row in rows if row[1] not in excluded]


def _covered(area: BaseGeometry, to_check: list[_CameraRow]) -> set[uuid.UUID]:
    """2. Of the cameras in boundary cells, those the area really covers (only they need
    the exact check)."""
    if not to_check:
        return set()
    # Preparing only caches a spatial index inside the geometry; callers cannot see it.
    shapely.prepare(area)
    points = shapely.points([(row[3], row[4]) for row in to_check])
    covered = shapely.covers(area, points)
    return {row[0] for row, hit in zip(to_check, covered, strict=True) if hit}


def _cameras_with_footage(
    connection: Connection,
    postgres: bool,
    probe: list[uuid.UUID],
    owner_of: dict[uuid.UUID, uuid.UUID],
    window_start: datetime,
    window_end: datetime,
    max_event_s: float,
) -> dict[uuid.UUID, list[uuid.UUID]]:
    """3. Which cameras inside saw something in the window, by owner: one event-index
    probe per camera inside, none for the cameras the cells reach beyond the area."""
    cameras_by_owner: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for i in range(0, len(probe), CAMERAS_PER_QUERY):
        params = _footage_params(
            probe[i : i + CAMERAS_PER_QUERY], window_start, window_end, max_event_s
        )
        for camera_id in connection.execute(_CAMERAS_WITH_FOOTAGE[postgres], params).scalars():
            cameras_by_owner[owner_of[camera_id]].append(camera_id)
    return cameras_by_owner


def _as_int(value: uuid.UUID) -> int:
    return value.int


def _first_as_int(item: tuple[uuid.UUID, object]) -> int:
    return item[0].int
