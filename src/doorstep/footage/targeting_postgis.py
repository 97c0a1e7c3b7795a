"""Targeting on PostgreSQL with PostGIS: containment and footage in one statement.

Where the server has PostGIS and migration ``20261205_0012`` built
``ix_cameras_exact_position`` (a GiST index on the cameras' exact positions as
``geometry(Point, 4326)``, only of cameras that accept requests, carrying id, owner
and position), ``target_owners`` asks PostgreSQL for the whole answer at once: the
cameras the area covers (``ST_Covers``: the edge counts as inside, holes do not; planar
``geometry``, so edges are straight in lon/lat, as for shapely and the H3 path) that saw
something in the window. No cell cover is computed in Python, and no position leaves
the server: the rows are (owner, camera) pairs.

Which path a database takes is decided at run time, once per engine, by whether the
index is there and valid: SQLite, and PostgreSQL without PostGIS, keep the H3 path.
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    LargeBinary,
    Select,
    Uuid,
    all_,
    bindparam,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql

from doorstep.cameras.models import Camera

POSITION_INDEX = "ix_cameras_exact_position"

_HAS_POSITION_INDEX = text(
    "SELECT EXISTS (SELECT FROM pg_index"
    " WHERE indexrelid = to_regclass(:index) AND indisvalid AND indisready)"
)
_position_index_found: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def has_position_index(connection: Connection) -> bool:
    """Whether this database can take the PostGIS path (asked once per engine)."""
    if connection.dialect.name != "postgresql":
        return False
    engine = connection.engine
    found = _position_index_found.get(engine)
    if found is None:
        found = bool(connection.scalar(_HAS_POSITION_INDEX, {"index": POSITION_INDEX}))
        _position_index_found[engine] = found
    return found


def _exact_position() -> Any:
    """The index's expression, written as the index has it: the SRID is a literal, not a
    parameter, or the planner could not match the expression to the index."""
    return func.ST_SetSRID(
        func.ST_MakePoint(Camera.exact_longitude, Camera.exact_latitude),
        literal_column("4326"),
    )


def covered_cameras_statement(
    first_live_event: Callable[[Any], Any],
) -> Select[uuid.UUID, uuid.UUID]:
    """``(owner id, camera id)`` of the cameras that accept requests, stand where the area
    (parameter ``area``, WKB in lon/lat) covers them, belong to no owner in ``excluded``,
    and have an event with live footage in the window (``first_live_event(camera id)``, a
    scalar subquery correlated to the camera).

    The cameras inside come first, in a materialized CTE: left to itself the planner runs
    the (cheap) event probe before the (costly) ``ST_Covers``, and so probes every camera
    in the area's bounding box, not only those inside. ``accepts_requests`` is written bare
    so that it matches the partial index's predicate. The array and the WKB keep the SQL
    text the same for every request: the driver prepares it once.
    """
    area = func.ST_GeomFromWKB(bindparam("area", type_=LargeBinary), literal_column("4326"))
    inside = (
        select(Camera.id, Camera.owner_id)
        .where(
            func.ST_Covers(area, _exact_position()),
            Camera.accepts_requests,
            Camera.owner_id != all_(bindparam("excluded", type_=postgresql.ARRAY(Uuid))),
        )
        .cte("inside")
        .prefix_with("MATERIALIZED")
    )
    return select(inside.c.owner_id, inside.c.id).where(first_live_event(inside.c.id).is_not(None))
