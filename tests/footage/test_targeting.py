"""Targeting, case by case: edges of the area, of H3 cells and of the time window.

The property test against a brute-force oracle lives in test_targeting_oracle.py.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import h3
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, box
from tests.factories import make_camera, make_person, sample_clip

from doorstep import geo
from doorstep.cameras import clips as camera_clips
from doorstep.cameras import deletion as camera_deletion
from doorstep.cameras import events as camera_events
from doorstep.cameras import inbox as camera_inbox
from doorstep.cameras.models import Camera, Clip
from doorstep.db import utcnow
from doorstep.errors import InvalidInput
from doorstep.footage import targeting_cells
from doorstep.footage.targeting import TargetOwner, area_cells, target_owners
from doorstep.media.kinds import EventKind
from doorstep.media.video import ClipLimits
from doorstep.runtime import Runtime

METRES_PER_DEG_LAT = 111_320.0
PHILADELPHIA = (39.9526, -75.1652)


def deg_lng(metres: float, lat: float) -> float:
    return metres / (METRES_PER_DEG_LAT * math.cos(math.radians(lat)))


def deg_lat(metres: float) -> float:
    return metres / METRES_PER_DEG_LAT


def shared_vertex() -> tuple[float, float]:
    """A point (lat, lng) where three res-9 cells meet."""
    cell = h3.latlng_to_cell(*PHILADELPHIA, geo.INDEX_RESOLUTION)
    lat, lng = h3.cell_to_boundary(cell)[0]
    return float(lat), float(lng)


def shared_edge_midpoint() -> tuple[float, float]:
    """A point (lat, lng) in the middle of the edge two res-9 cells share."""
    cell = h3.latlng_to_cell(*PHILADELPHIA, geo.INDEX_RESOLUTION)
    (lat1, lng1), (lat2, lng2) = h3.cell_to_boundary(cell)[:2]
    return (lat1 + lat2) / 2, (lng1 + lng2) / 2


@dataclass
class Scene:
    area: Polygon
    window_start: datetime
    window_end: datetime
    expected: dict[uuid.UUID, list[uuid.UUID]] = field(default_factory=dict)
    carol: uuid.UUID = field(default_factory=uuid.uuid4)
    carol_camera: uuid.UUID = field(default_factory=uuid.uuid4)
    cells_seen: set[int] = field(default_factory=set)


def build_scene(runtime: Runtime, tmp_path: Path, centre: tuple[float, float]) -> Scene:
    """Cameras around ``centre`` with every edge case; events through the camera service."""
    lat0, lng0 = centre
    half_lat, half_lng = deg_lat(60), deg_lng(60, lat0)
    hole_lat, hole_lng = lat0 - half_lat / 2, lng0 - half_lng / 2
    hole = box(
        hole_lng - half_lng / 5,
        hole_lat - half_lat / 5,
        hole_lng + half_lng / 5,
        hole_lat + half_lat / 5,
    )
    outer = box(lng0 - half_lng, lat0 - half_lat, lng0 + half_lng, lat0 + half_lat)
    area = Polygon(outer.exterior.coords, [hole.exterior.coords])
    minx, miny, maxx, maxy = area.bounds
    start = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    end = start + timedelta(hours=1)
    scene = Scene(area=area, window_start=start, window_end=end)

    alice, bob, carol, dave = (make_person(runtime).user for _ in range(4))
    scene.carol = carol.id
    limits = ClipLimits.from_settings(runtime.settings)
    clip_file = sample_clip(tmp_path / "clips")

    def camera(owner_id: uuid.UUID, lat: float, lng: float, **kwargs: object) -> Camera:
        owner = {p.id: p for p in (alice, bob, carol, dave)}[owner_id]
        return make_camera(runtime, owner, latitude=lat, longitude=lng, **kwargs).camera

    def device_event(cam: Camera, started: datetime, ended: datetime | None) -> None:
        with runtime.db.transaction() as session:
            camera_events.report_device_event(
                session=session,
                camera=session.get_one(Camera, cam.id),
                kind=EventKind.motion,
                started_at=started,
                ended_at=ended,
                device_ref=None,
                max_duration_s=runtime.settings.max_clip_duration_s,
                alert_window_s=runtime.settings.event_alert_window_s,
            )

    def in_window(cam: Camera) -> None:
        device_event(cam, start + timedelta(minutes=10), start + timedelta(minutes=11))

    def expect(cam: Camera) -> None:
        scene.expected.setdefault(cam.owner_id, []).append(cam.id)
        scene.cells_seen.add(cam.index_cell)

    # Alice: one camera per rule; only those passed to expect() may come back.
    for lat, lng, included in [
        (lat0, lng0, True),  # the shared vertex or edge itself
        (lat0, maxx, True),  # exactly on the east edge
        (maxy, minx, True),  # exactly on the north-west corner
        (miny, lng0 - half_lng / 3, True),  # exactly on the south edge
        (lat0, maxx + deg_lng(1, lat0), False),  # 1 m east of the edge
        (maxy + deg_lat(1), lng0, False),  # 1 m north of the edge
        (hole_lat, hole_lng, False),  # in the hole
        (hole_lat, hole.bounds[2], True),  # on the hole's edge: still the area's boundary
    ]:
        cam = camera(alice.id, lat, lng)
        in_window(cam)
        if included:
            expect(cam)

    not_accepting = camera(alice.id, lat0 + half_lat / 2, lng0, accepts_requests=False)
    in_window(not_accepting)

    ends_at_start = camera(alice.id, lat0 + half_lat / 2, lng0 + half_lng / 2)
    device_event(ends_at_start, start - timedelta(minutes=5), start)
    starts_at_end = camera(alice.id, lat0 + half_lat / 3, lng0 + half_lng / 2)
    device_event(starts_at_end, end, end + timedelta(minutes=1))
    outside_window = camera(alice.id, lat0 + half_lat / 4, lng0 + half_lng / 2)
    device_event(outside_window, start - timedelta(hours=2), start - timedelta(hours=2, minutes=-1))
    device_event(outside_window, end + timedelta(hours=3), None)
    camera(alice.id, lat0 + half_lat / 5, lng0 + half_lng / 2)  # no events at all

    long_event = camera(alice.id, lat0 - half_lat / 2, lng0 + half_lng / 2)
    device_event(long_event, start - timedelta(seconds=500), start + timedelta(seconds=60))
    expect(long_event)
    instant_at_start = camera(alice.id, lat0 - half_lat / 3, lng0 + half_lng / 2)
    device_event(instant_at_start, start, None)  # a ring: ended_at == started_at == start
    expect(instant_at_start)

    stored = camera(alice.id, lat0 - half_lat / 4, lng0 + half_lng / 2)
    deleted = camera(alice.id, lat0 - half_lat / 5, lng0 + half_lng / 2)
    with runtime.db.transaction() as session:
        for cam in (stored, deleted):
            camera_clips.ingest_clip(
                session=session,
                storage=runtime.storage,
                limits=limits,
                camera=session.get_one(Camera, cam.id),
                file_path=clip_file,
                started_at=start + timedelta(minutes=20),
                kind=EventKind.person,
            )
    expect(stored)
    with runtime.db.transaction() as session:
        clip = session.scalars(
            camera_inbox.readable_clips(actor=alice).where(Clip.camera_id == deleted.id)
        ).one()
        camera_deletion.delete_clip(
            session=session, storage=runtime.storage, owner=alice, clip_id=clip.id
        )

    # Bob: two cameras in the area; he must come back once, with both.
    for dlat, dlng in [(-half_lat / 2, 0.0), (half_lat / 2, -half_lng / 2)]:
        cam = camera(bob.id, lat0 + dlat, lng0 + dlng)
        in_window(cam)
        expect(cam)

    # Carol qualifies; the tests exclude her by id.
    carol_cam = camera(carol.id, lat0 - half_lat / 2, lng0 - half_lng / 4)
    in_window(carol_cam)
    scene.carol_camera = carol_cam.id

    # Dave: a camera that qualifies in every way but place.
    outside = camera(dave.id, lat0, lng0 + 2 * half_lng)
    in_window(outside)
    return scene


def expected_owners(expected: dict[uuid.UUID, list[uuid.UUID]]) -> list[TargetOwner]:
    return [
        TargetOwner(owner_id=owner_id, camera_ids=tuple(sorted(ids)))
        for owner_id, ids in sorted(expected.items())
    ]


@pytest.mark.parametrize("where", ["vertex", "edge"])
def test_targeting_edge_cases(runtime: Runtime, tmp_path: Path, where: str) -> None:
    centre = shared_vertex() if where == "vertex" else shared_edge_midpoint()
    scene = build_scene(runtime, tmp_path, centre)
    # The area straddles several index cells, and the matches sit in more than one.
    interior, boundary = area_cells(scene.area)
    assert not interior and len(boundary) >= (3 if where == "vertex" else 2)
    assert len(scene.cells_seen) >= 2
    assert scene.cells_seen <= boundary

    with runtime.db.transaction() as session:
        excluding_carol = target_owners(
            session=session,
            area=scene.area,
            window_start=scene.window_start,
            window_end=scene.window_end,
            excluded_owner_ids={scene.carol},
        )
        everyone = target_owners(
            session=session,
            area=scene.area,
            window_start=scene.window_start,
            window_end=scene.window_end,
        )
    assert excluding_carol == expected_owners(scene.expected)
    with_carol = {**scene.expected, scene.carol: [scene.carol_camera]}
    assert everyone == expected_owners(with_carol)
    assert all(len(ids) >= 2 for ids in scene.expected.values())  # grouped, one row each


def test_circle_area_and_big_cell_sets(runtime: Runtime) -> None:
    """A circle from geo.circle works, and a big area is queried in several statements."""
    owner = make_person(runtime).user
    lat, lng = PHILADELPHIA
    near = make_camera(runtime, owner, latitude=lat + deg_lat(250), longitude=lng).camera
    far = make_camera(runtime, owner, latitude=lat + deg_lat(450), longitude=lng).camera
    start = utcnow() - timedelta(hours=3)
    with runtime.db.transaction() as session:
        for cam in (near, far):
            camera_events.report_device_event(
                session=session,
                camera=session.get_one(Camera, cam.id),
                kind=EventKind.ding,
                started_at=start,
                ended_at=None,
                device_ref="ring-1",
                max_duration_s=600,
                alert_window_s=30,
            )
    with runtime.db.transaction() as session:
        small = target_owners(
            session=session,
            area=geo.circle(lat, lng, 300),
            window_start=start,
            window_end=start + timedelta(minutes=1),
        )
        # ~15 km: about 7,000 cells, more than one statement's worth.
        big_area = geo.circle(lat, lng, 15_000)
        interior, boundary = area_cells(big_area)
        assert len(interior | boundary) > 5_000
        big = target_owners(
            session=session,
            area=big_area,
            window_start=start - timedelta(minutes=1),
            window_end=start + timedelta(minutes=1),
        )
    assert small == [TargetOwner(owner_id=owner.id, camera_ids=(near.id,))]
    assert big == [TargetOwner(owner_id=owner.id, camera_ids=tuple(sorted((near.id, far.id))))]


def test_refuses_bad_input(runtime: Runtime) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    area = geo.circle(*PHILADELPHIA, 200)
    with runtime.db.transaction() as session:
        with pytest.raises(InvalidInput) as naive:
            target_owners(
                session=session,
                area=area,
                window_start=start.replace(tzinfo=None),
                window_end=start + timedelta(hours=1),
            )
        assert naive.value.code == "naive_time"
        with pytest.raises(InvalidInput) as backwards:
            target_owners(session=session, area=area, window_start=start, window_end=start)
        assert backwards.value.code == "invalid_window"
        for bad in (
            Point(PHILADELPHIA[1], PHILADELPHIA[0]),
            Polygon(),
            Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]),  # a bow tie: self-intersecting
        ):
            with pytest.raises(InvalidInput) as shape_error:
                target_owners(
                    session=session,
                    area=bad,
                    window_start=start,
                    window_end=start + timedelta(hours=1),
                )
            assert shape_error.value.code == "invalid_geometry"


def test_area_cells_of_a_tiny_area_inside_one_cell() -> None:
    lat, lng = PHILADELPHIA
    cell = geo.cell_of(lat, lng, geo.INDEX_RESOLUTION)
    tiny = shapely.box(lng - 1e-6, lat - 1e-6, lng + 1e-6, lat + 1e-6)
    interior, boundary = area_cells(tiny)
    assert interior == set()
    assert cell in boundary


def test_the_area_bound_is_measured_on_the_sphere_not_the_bounding_box() -> None:
    """The bounding box only spares measuring small areas: a thin diagonal strip whose box
    is far over the bound passes, a square just over it is refused, one just under passes."""
    lat, lng = PHILADELPHIA
    side_km = math.sqrt(targeting_cells.MAX_AREA_KM2)

    def square(scale: float) -> Polygon:
        half_lat = scale * side_km * 1000 / 2 / METRES_PER_DEG_LAT
        half_lng = half_lat / math.cos(math.radians(lat))
        return shapely.box(lng - half_lng, lat - half_lat, lng + half_lng, lat + half_lat)

    strip = LineString([(lng - 2.0, lat - 1.5), (lng + 2.0, lat + 1.5)]).buffer(0.001)
    assert geo.area_m2(strip) < 0.01 * targeting_cells.MAX_AREA_KM2 * 1e6
    targeting_cells.check_area(strip)
    targeting_cells.check_area(square(0.98))
    with pytest.raises(InvalidInput) as refused:
        targeting_cells.check_area(square(1.02))
    assert refused.value.code == "area_too_large"
