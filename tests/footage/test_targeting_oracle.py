"""Targeting at scale: a brute-force oracle, the cell guarantees, and the query plans.

~3,000 cameras clustered around three towns (two hemispheres, two H3 faces apart)
with random events; hypothesis draws areas and windows and target_owners must
agree with a plain loop over every camera.
"""

from __future__ import annotations

import math
import random
import statistics
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import h3
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Select, insert, text
from sqlalchemy.orm import Session

from doorstep import geo
from doorstep.accounts.models import User
from doorstep.cameras.models import Camera, CameraKind, Clip, MotionEvent
from doorstep.db import utcnow
from doorstep.errors import InvalidInput
from doorstep.footage import targeting_postgis
from doorstep.footage.targeting import (
    TargetingMethod,
    TargetOwner,
    area_cells,
    cameras_in_cells,
    cameras_with_footage,
    covered_cameras_with_footage,
    target_owners,
)
from doorstep.media.kinds import EventKind
from doorstep.runtime import Runtime

TOWNS = [(39.9526, -75.1652), (59.3293, 18.0686), (-33.8688, 151.2093)]
CAMERAS_PER_TOWN = 1_000
OWNERS_PER_TOWN = 400
SPREAD_M = 700.0
MAX_EVENT_S = 600.0
METRES_PER_DEG_LAT = 111_320.0


def offset(lat: float, lng: float, east_m: float, north_m: float) -> tuple[float, float]:
    """(lng, lat) of a point east_m and north_m away; good enough for a few km."""
    return (
        lng + east_m / (METRES_PER_DEG_LAT * math.cos(math.radians(lat))),
        lat + north_m / METRES_PER_DEG_LAT,
    )


# ---------------------------------------------------------------- the data set


@dataclass
class Dataset:
    base: datetime
    owner_ids: list[uuid.UUID]
    camera_ids: list[uuid.UUID]
    camera_owner: list[uuid.UUID]
    lngs: list[float]
    lats: list[float]
    accepts: list[bool]
    # Per camera: (started_at, ended_at) of events whose footage still exists.
    live_events: list[list[tuple[datetime, datetime]]]
    event_times: list[datetime] = field(default_factory=list)
    points: Any = None  # shapely points of the cameras, for the vectorized oracle


def build_dataset(runtime: Runtime, seed: int = 7) -> Dataset:
    """Owners, cameras, clips and events, written in bulk in one transaction.

    Three thousand cameras through register_camera (and a thousand argon2 hashes for
    their owners) would take minutes, so rows go in with bulk INSERTs. Cells are computed
    with the same helpers register_camera uses (geo.cell_of, geo.parent_cell); owners get
    a placeholder password hash, since nobody signs in here.
    """
    rng = random.Random(seed)
    base = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(days=3)

    def new_uuid() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    users: list[dict[str, Any]] = []
    cameras: list[dict[str, Any]] = []
    clips: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    ds = Dataset(
        base=base,
        owner_ids=[],
        camera_ids=[],
        camera_owner=[],
        lngs=[],
        lats=[],
        accepts=[],
        live_events=[],
    )
    for town, (lat0, lng0) in enumerate(TOWNS):
        town_owners = [new_uuid() for _ in range(OWNERS_PER_TOWN)]
        for owner_id in town_owners:
            users.append(
                {
                    "id": owner_id,
                    "email": f"{owner_id.hex}@example.org",
                    "display_name": f"Owner {owner_id.hex[:6]}",
                    "password_hash": "not-a-hash",
                }
            )
        ds.owner_ids.extend(town_owners)
        for n in range(CAMERAS_PER_TOWN):
            lng, lat = offset(lat0, lng0, rng.gauss(0, SPREAD_M), rng.gauss(0, SPREAD_M))
            roll = rng.random()
            cell = h3.latlng_to_cell(lat, lng, geo.INDEX_RESOLUTION)
            corners = h3.cell_to_boundary(cell)
            if roll < 0.04:  # exactly on a cell vertex: three cells meet here
                lat, lng = corners[0]
            elif roll < 0.08:  # on the middle of a cell edge (up to rounding)
                (a_lat, a_lng), (b_lat, b_lng) = corners[1], corners[2]
                lat, lng = (a_lat + b_lat) / 2, (a_lng + b_lng) / 2
            elif roll < 0.10 and n > 0:  # the same spot as another camera of the town
                k = rng.randrange(len(ds.lats) - n, len(ds.lats))
                lat, lng = ds.lats[k], ds.lngs[k]
            camera_id, owner_id = new_uuid(), rng.choice(town_owners)
            index_cell = geo.cell_of(lat, lng, geo.INDEX_RESOLUTION)
            accepts = rng.random() < 0.9
            cameras.append(
                {
                    "id": camera_id,
                    "owner_id": owner_id,
                    "name": f"Camera {town}-{n}",
                    "kind": CameraKind.doorbell,
                    "exact_latitude": lat,
                    "exact_longitude": lng,
                    "index_cell": index_cell,
                    "coarse_cell": geo.parent_cell(index_cell, geo.COARSE_RESOLUTION),
                    "accepts_requests": accepts,
                }
            )
            live: list[tuple[datetime, datetime]] = []
            for _ in range(rng.choice([0, 1, 1, 2, 3, 5])):
                started = base + timedelta(seconds=rng.randrange(0, 2 * 86_400))
                if rng.random() < 0.3:
                    started += timedelta(microseconds=rng.randrange(1, 1_000_000))
                length = rng.choice([0.0, rng.uniform(0.2, MAX_EVENT_S), MAX_EVENT_S])
                ended = started + timedelta(seconds=length)
                ds.event_times.extend([started, ended])
                fate = rng.random()
                clip_id = None
                on_device = fate < 0.7
                if 0.7 <= fate < 0.95:  # a stored clip, deleted in a fifth of cases
                    clip_id = new_uuid()
                    deleted = fate >= 0.9
                    clips.append(
                        {
                            "id": clip_id,
                            "camera_id": camera_id,
                            "owner_id": owner_id,
                            "started_at": started,
                            "ended_at": ended,
                            "storage_key": None if deleted else f"clips/{clip_id}.mp4",
                            "thumbnail_key": None,
                            "sha256": "0" * 64,
                            "size_bytes": 1,
                            "duration_s": length,
                            "width": 320,
                            "height": 240,
                            "codec": "h264",
                            "deleted_at": base if deleted else None,
                        }
                    )
                    if not deleted:
                        live.append((started, ended))
                elif on_device:
                    live.append((started, ended))
                # else: the clip row is gone (clip_id set null): no footage anywhere.
                events.append(
                    {
                        "id": new_uuid(),
                        "camera_id": camera_id,
                        "owner_id": owner_id,
                        "kind": EventKind.motion,
                        "started_at": started,
                        "ended_at": ended,
                        "on_device": on_device,
                        "clip_id": clip_id,
                    }
                )
            ds.camera_ids.append(camera_id)
            ds.camera_owner.append(owner_id)
            ds.lngs.append(lng)
            ds.lats.append(lat)
            ds.accepts.append(accepts)
            ds.live_events.append(live)

    with runtime.db.transaction() as session:
        session.execute(insert(User), users)
        session.execute(insert(Camera), cameras)
        session.execute(insert(Clip), clips)
        session.execute(insert(MotionEvent), events)
    if runtime.db.is_postgres:
        # What autovacuum does on a live server; a planner without statistics guesses.
        with runtime.db.engine.connect() as conn:
            conn.execute(text("ANALYZE cameras, motion_events, clips"))
            conn.commit()
    ds.points = shapely.points(list(zip(ds.lngs, ds.lats, strict=True)))
    return ds


def oracle(
    ds: Dataset,
    area: BaseGeometry,
    start: datetime,
    end: datetime,
    excluded: set[uuid.UUID],
) -> list[TargetOwner]:
    """The rules, one camera at a time, with no index or cell anywhere."""
    covered = shapely.covers(area, ds.points)
    found: dict[uuid.UUID, list[uuid.UUID]] = {}
    for i, camera_id in enumerate(ds.camera_ids):
        owner_id = ds.camera_owner[i]
        if not (covered[i] and ds.accepts[i]) or owner_id in excluded:
            continue
        if any(s < end and (e > start or s == start) for s, e in ds.live_events[i]):
            found.setdefault(owner_id, []).append(camera_id)
    return [TargetOwner(owner_id=o, camera_ids=tuple(sorted(c))) for o, c in sorted(found.items())]


# ---------------------------------------------------------------- areas


def valid(geom: BaseGeometry) -> bool:
    return bool(geom.is_valid and not geom.is_empty and geom.area > 0)


@st.composite
def centres(draw: st.DrawFn) -> tuple[float, float]:
    lat0, lng0 = draw(st.sampled_from(TOWNS))
    east, north = draw(st.floats(-1500, 1500)), draw(st.floats(-1500, 1500))
    lng, lat = offset(lat0, lng0, east, north)
    return lat, lng


@st.composite
def stars(
    draw: st.DrawFn,
    centre: tuple[float, float] | None = None,
    min_vertices: int = 3,
    radius_m: tuple[float, float] = (30, 1200),
    spread: float = 1.0,
) -> Polygon:
    """A star-shaped (so simple, usually concave) polygon around a centre."""
    lat, lng = centre or draw(centres())
    n = draw(st.integers(min_vertices, 12))
    outer = draw(st.floats(*radius_m))
    step = 2 * math.pi / n
    ring = []
    for i in range(n):
        angle = step * (i + draw(st.floats(0, 0.8)))
        r = outer * draw(st.floats(1 - spread * 0.95, 1))
        ring.append(offset(lat, lng, r * math.cos(angle), r * math.sin(angle)))
    return Polygon(ring)


@st.composite
def holed(draw: st.DrawFn) -> Polygon:
    lat, lng = draw(centres())
    shell = draw(stars(centre=(lat, lng), min_vertices=6, radius_m=(200, 1200), spread=0.4))
    outer_m = math.sqrt(geo.area_m2(shell) / math.pi)
    hole = draw(stars(centre=(lat, lng), radius_m=(0.05 * outer_m, 0.3 * outer_m)))
    return Polygon(shell.exterior.coords, [hole.exterior.coords])


@st.composite
def circles(draw: st.DrawFn) -> Polygon:
    lat, lng = draw(centres())
    return geo.circle(
        lat, lng, draw(st.floats(100, 600)), segments=draw(st.sampled_from([8, 16, 64]))
    )


@st.composite
def multis(draw: st.DrawFn) -> BaseGeometry:
    parts = draw(st.lists(st.one_of(stars(), circles(), holed()), min_size=2, max_size=3))
    if any(not valid(p) for p in parts):
        return parts[0]
    return shapely.union_all(parts)


@st.composite
def cell_unions(draw: st.DrawFn) -> BaseGeometry:
    """Whole H3 cells: cameras on cell vertices sit exactly on this area's boundary."""
    lat, lng = draw(centres())
    cell = h3.latlng_to_cell(lat, lng, geo.INDEX_RESOLUTION)
    disk = sorted(h3.grid_disk(cell, 1))
    chosen = draw(st.lists(st.sampled_from(disk), min_size=1, max_size=7, unique=True))
    return shape(h3.cells_to_h3shape(chosen).__geo_interface__)


def areas() -> st.SearchStrategy[BaseGeometry]:
    return st.one_of(stars(), holed(), circles(), multis(), cell_unions()).filter(valid)


def through_cameras(ds: Dataset) -> st.SearchStrategy[BaseGeometry]:
    """Polygons and boxes whose corners are cameras: those sit exactly on the boundary."""

    @st.composite
    def strategy(draw: st.DrawFn) -> BaseGeometry:
        town = draw(st.integers(0, len(TOWNS) - 1))
        first = town * CAMERAS_PER_TOWN
        picks = draw(
            st.lists(
                st.integers(first, first + CAMERAS_PER_TOWN - 1),
                min_size=2,
                max_size=8,
                unique=True,
            )
        )
        points = {(ds.lngs[i], ds.lats[i]) for i in picks}
        if len(picks) == 2 or len(points) < 3:
            (x1, y1), (x2, y2) = (
                (ds.lngs[picks[0]], ds.lats[picks[0]]),
                (
                    ds.lngs[picks[1]],
                    ds.lats[picks[1]],
                ),
            )
            return shapely.box(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
        cx = sum(x for x, _ in points) / len(points)
        cy = sum(y for _, y in points) / len(points)
        return Polygon(sorted(points, key=lambda p: math.atan2(p[1] - cy, p[0] - cx)))

    return strategy().filter(valid)


def windows(ds: Dataset) -> st.SearchStrategy[tuple[datetime, datetime]]:
    """Windows anywhere in the data, often starting or ending exactly on an event's edge."""

    @st.composite
    def strategy(draw: st.DrawFn) -> tuple[datetime, datetime]:
        free = st.integers(0, 2 * 86_400).map(lambda s: ds.base + timedelta(seconds=s))
        start = draw(st.one_of(st.sampled_from(ds.event_times), free))
        minutes = draw(st.sampled_from([0, 15, 60, 6 * 60, 24 * 60]))
        length = timedelta(minutes=minutes, seconds=draw(st.integers(1, 600)))
        end = draw(
            st.one_of(
                st.just(start + length),
                st.sampled_from(ds.event_times).filter(lambda t: t > start),
            )
        )
        return start, end

    return strategy()


def exclusions(ds: Dataset) -> st.SearchStrategy[set[uuid.UUID]]:
    return st.tuples(st.sampled_from([0.0, 0.3]), st.integers(0, 2**32)).map(
        lambda p: set(random.Random(p[1]).sample(ds.owner_ids, int(len(ds.owner_ids) * p[0])))
    )


# ---------------------------------------------------------------- tests


SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_target_owners_matches_oracle(runtime: Runtime) -> None:
    """Every path target_owners has on this database gives the oracle's owners: H3 on both,
    PostGIS too on PostgreSQL (the test databases have the extension where the server does,
    as CI's does), which target_owners then takes unasked."""
    methods: list[TargetingMethod | None] = [None, "h3"]
    if runtime.db.is_postgres:
        with runtime.db.transaction() as session:
            assert targeting_postgis.has_position_index(session.connection()), (
                "PostGIS is missing: install postgresql-15-postgis-3 (as .ci/run does)"
            )
        methods.append("postgis")
    ds = build_dataset(runtime)
    seen = {"matched": 0}

    @SETTINGS
    @given(
        area=st.one_of(areas(), through_cameras(ds)),
        window=windows(ds),
        excluded=exclusions(ds),
    )
    def check(
        area: BaseGeometry, window: tuple[datetime, datetime], excluded: set[uuid.UUID]
    ) -> None:
        start, end = window
        expected = oracle(ds, area, start, end, excluded)
        for method in methods:
            with runtime.db.transaction() as session:
                got = target_owners(
                    session=session,
                    area=area,
                    window_start=start,
                    window_end=end,
                    excluded_owner_ids=excluded,
                    max_event_s=MAX_EVENT_S,
                    method=method,
                )
            assert got == expected, method
        seen["matched"] += len(expected)

    check()
    assert seen["matched"] > 0, "the areas should reach some owners"


def test_a_wide_window_matches_oracle_for_camera_cornered_areas(runtime: Runtime) -> None:
    """All-day windows, so nearly every covered camera qualifies: boundaries decide."""
    ds = build_dataset(runtime)
    start, end = ds.base, ds.base + timedelta(days=2, seconds=MAX_EVENT_S)

    @SETTINGS
    @given(area=through_cameras(ds))
    def check(area: BaseGeometry) -> None:
        with runtime.db.transaction() as session:
            got = target_owners(session=session, area=area, window_start=start, window_end=end)
        assert got == oracle(ds, area, start, end, set())
        seen["matched"] += len(got)

    seen = {"matched": 0}
    check()
    assert seen["matched"] > 0, "polygons cornered on cameras hold some"


@pytest.mark.parametrize("db_backend", ["sqlite"], indirect=True)
def test_postgis_path_refuses_a_database_without_its_index(runtime: Runtime) -> None:
    """SQLite has no PostGIS: asked for that path anyway, target_owners says so; left to
    choose, it takes the H3 path."""
    area = geo.circle(*TOWNS[0], 300.0)
    start = utcnow()
    end = start + timedelta(hours=1)
    with runtime.db.transaction() as session:
        assert not targeting_postgis.has_position_index(session.connection())
        with pytest.raises(ValueError, match="PostGIS"):
            target_owners(
                session=session, area=area, window_start=start, window_end=end, method="postgis"
            )
        assert target_owners(session=session, area=area, window_start=start, window_end=end) == []


def test_postgis_path_reads_positions_only_to_decide_containment() -> None:
    """Privacy: the PostGIS statement returns owners and cameras, never a position."""
    start = utcnow()
    statement = covered_cameras_with_footage(
        area=geo.circle(*TOWNS[0], 300.0),
        window_start=start,
        window_end=start + timedelta(hours=1),
        max_event_s=MAX_EVENT_S,
    )
    assert [column.name for column in statement.selected_columns] == ["owner_id", "id"]


def sample_points(area: BaseGeometry, rng: random.Random) -> list[tuple[float, float]]:
    """Points in and around the area, on its edges, and on the corners of nearby cells."""
    minx, miny, maxx, maxy = area.buffer(0.002).bounds
    points = [(rng.uniform(minx, maxx), rng.uniform(miny, maxy)) for _ in range(300)]
    boundary = area.boundary
    points += [
        (p.x, p.y)
        for p in (boundary.interpolate(rng.random(), normalized=True) for _ in range(100))
    ]
    for ring in [area.exterior] if isinstance(area, Polygon) else []:
        points += list(ring.coords)
    interior, edge = area_cells(area)
    for cell in sorted(interior | edge)[:200]:
        points += [(lng, lat) for lat, lng in h3.cell_to_boundary(h3.int_to_str(cell))]
    return points


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(area=areas(), seed=st.integers(0, 2**32))
def test_area_cells_miss_nothing_and_interior_needs_no_check(area: BaseGeometry, seed: int) -> None:
    interior, boundary = area_cells(area)
    assert not interior & boundary
    cells = interior | boundary
    shapely.prepare(area)
    points = sample_points(area, random.Random(seed))
    covered = shapely.covers(area, shapely.points(points))
    for (lng, lat), inside in zip(points, covered, strict=True):
        cell = geo.cell_of(lat, lng, geo.INDEX_RESOLUTION)
        if inside:
            assert cell in cells, f"({lat}, {lng}) is in the area but its cell was not searched"
        if cell in interior:
            assert inside, f"({lat}, {lng}) is in an interior cell but outside the area"


def test_area_cells_read_long_edges_as_straight_lon_lat_lines() -> None:
    """A 50 km strip, 10 m tall, at 60° N: read as great circles its edges would bow
    ~85 m north and the cells found would miss the strip itself."""
    lat = 60.0
    strip = shapely.box(10.0, lat, 10.9, lat + 10 / METRES_PER_DEG_LAT)
    interior, boundary = area_cells(strip)
    rng = random.Random(1)
    for _ in range(2_000):
        lng, lat_ = rng.uniform(10.0, 10.9), rng.uniform(lat, lat + 10 / METRES_PER_DEG_LAT)
        assert geo.cell_of(lat_, lng, geo.INDEX_RESOLUTION) in boundary
    assert not interior


def test_area_cells_refuse_what_h3_and_shapely_would_read_differently() -> None:
    huge = shapely.box(-75.2, 39.9, 18.1, 59.3)  # Philadelphia to Stockholm
    across = shapely.box(-179.9, 10.0, 179.9, 10.00001)  # a sliver around the globe
    for area in (huge, across):
        with pytest.raises(InvalidInput) as refused:
            area_cells(area)
        assert refused.value.code == "area_too_large"


def test_area_cells_of_multipolygons_cover_every_part() -> None:
    parts = [geo.circle(lat, lng, 300) for lat, lng in TOWNS]
    area = MultiPolygon(parts)
    interior, boundary = area_cells(area)
    for lat, lng in TOWNS:
        assert geo.cell_of(lat, lng, geo.INDEX_RESOLUTION) in interior | boundary


# ---------------------------------------------------------------- plans and timing


# At 3,000 cameras reading the whole table beats the index, and PostgreSQL rightly reads
# it; forbidding that shows the statement can use the index, as a million cameras need.
SMALL_TABLE_PLANS = ("enable_seqscan", "enable_bitmapscan")


def explain(session: Session, statement: Select[Any]) -> str:
    """The plan of a statement, with its values inlined (they bind the same way)."""
    conn = session.connection()
    sql = str(statement.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "postgresql":
        for setting in SMALL_TABLE_PLANS:
            conn.exec_driver_sql(f"SET LOCAL {setting} = off")
        return "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}"))
    return "\n".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))


def timed(fn: Callable[[], Sequence[TargetOwner]], repeat: int = 5) -> tuple[float, int]:
    times, result = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = len(fn())
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def test_query_uses_cell_and_event_indexes(runtime: Runtime, db_backend: str) -> None:
    ds = build_dataset(runtime)
    lat, lng = TOWNS[0]
    # Half a square mile (the default policy's largest area): a circle of 642 m radius.
    radius_m = math.sqrt(0.5 * geo.SQ_M_PER_SQ_MILE / math.pi)
    area = geo.circle(lat, lng, radius_m)
    interior, boundary = area_cells(area)
    start = ds.base + timedelta(hours=20)
    end = start + timedelta(hours=2)
    with runtime.db.transaction() as session:
        duration_s, owners = timed(
            lambda: target_owners(session=session, area=area, window_start=start, window_end=end)
        )
    assert owners == len(oracle(ds, area, start, end, set())) > 0
    print(f"\n[{db_backend}] target_owners, 0.5 sq mi, 3,000 cameras: {duration_s * 1000:.1f} ms")
    assert duration_s < 1.0

    with runtime.db.transaction() as session:
        cells_plan = explain(session, cameras_in_cells(cells=interior | boundary))
        placed = session.execute(cameras_in_cells(cells=interior | boundary)).all()
        footage_plan = explain(
            session,
            cameras_with_footage(
                camera_ids=[row[0] for row in placed],
                window_start=start,
                window_end=end,
                max_event_s=MAX_EVENT_S,
            ),
        )
    print(cells_plan, footage_plan)
    assert "ix_cameras_targeting" in cells_plan, cells_plan
    if db_backend == "postgres":
        # Everything the first query reads is in the index: no table row is visited.
        assert "Index Only Scan using ix_cameras_targeting" in cells_plan, cells_plan
    else:
        assert "COVERING INDEX ix_cameras_targeting" in cells_plan, cells_plan
    if db_backend == "postgres":
        # The PostGIS path: the cameras inside from the GiST index alone, then the probe.
        with runtime.db.transaction() as session:
            covered_plan = explain_with_values(
                session,
                covered_cameras_with_footage(
                    area=area, window_start=start, window_end=end, max_event_s=MAX_EVENT_S
                ),
            )
        assert "Index Only Scan using ix_cameras_exact_position" in covered_plan, covered_plan
        assert_event_probe_bounded(covered_plan)
    assert_event_probe_bounded(footage_plan)


def explain_with_values(session: Session, statement: Select[Any]) -> str:
    """The plan of a statement whose values (WKB, arrays) cannot be inlined."""
    conn = session.connection()
    for setting in SMALL_TABLE_PLANS:
        conn.exec_driver_sql(f"SET LOCAL {setting} = off")
    compiled = statement.compile(dialect=conn.dialect)
    rows = conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.construct_params())
    return "\n".join(row[0] for row in rows)


def assert_event_probe_bounded(footage_plan: str) -> None:
    """The event index is searched by camera and bounded on started_at from both sides."""
    lines = footage_plan.splitlines()
    at = next(i for i, line in enumerate(lines) if "ix_motion_events_camera_id_started_at" in line)
    search = " ".join(lines[at : at + 2])
    assert "camera_id" in search and "started_at>" in search.replace(" ", ""), footage_plan
    assert "started_at<" in search.replace(" ", ""), footage_plan
