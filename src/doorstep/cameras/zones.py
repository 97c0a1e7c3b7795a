"""A camera's privacy zones: polygons its owner draws over a still frame of it.

They are stored as ``{"width", "height", "polygons"}`` in the pixels of the frame they were
drawn on (``media.redaction.scaled_zones`` scales them to any clip), and filled solid in
every copy that leaves the owner. With ``zones_at_ingest`` they are also filled before a
clip is stored, so that the area is never kept at all. A change applies to later copies
only: nothing here rewrites a stored clip or evidence already sent.

Not audited: CONVENTIONS lists consent, sharing, evidence access, policy and role changes,
and a camera's other settings are not audited either.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.accounts.models import User
from doorstep.cameras.models import Camera, Clip
from doorstep.cameras.registry import get_own_camera
from doorstep.cameras.schemas import ZonesRead
from doorstep.errors import InvalidInput
from doorstep.media.redaction import scaled_zones, validate_zones

MIN_SIDE = 16
MAX_SIDE = 7680
BLANK_WIDTH, BLANK_HEIGHT = 1280, 720
THUMBNAIL_WIDTH = 320

Point = tuple[float, float]


@dataclass(frozen=True)
class StillFrame:
    """The frame the owner draws on: the thumbnail of the camera's newest live clip, or
    (``clip_id`` None) a blank frame. ``width`` and ``height`` are its pixels."""

    clip_id: uuid.UUID | None
    width: int
    height: int


def _check_frame(width: int, height: int) -> None:
    for side, value in (("width", width), ("height", height)):
        if not MIN_SIDE <= value <= MAX_SIDE:
            raise InvalidInput(
                f"The frame's {side} is between {MIN_SIDE} and {MAX_SIDE} pixels; "
                f"{value} was given.",
                code="invalid_frame",
            )


def get_zones(*, session: Session, owner: User, camera_id: uuid.UUID) -> Camera:
    """The owner's camera with its zones (``privacy_zones``, ``zones_at_ingest``); 404 for
    anyone else's."""
    return get_own_camera(session=session, owner=owner, camera_id=camera_id)


def set_zones(
    *,
    session: Session,
    owner: User,
    camera_id: uuid.UUID,
    width: int,
    height: int,
    polygons: Sequence[Sequence[Point]],
    apply_at_ingest: bool,
) -> Camera:
    """Replace the camera's zones with ``polygons`` drawn on a ``width`` by ``height`` frame.
    Every polygon is checked first (``InvalidInput`` with a ``zone_*`` code): a refusal
    changes nothing. No polygons clears them. Applies to clips stored and copies made from
    now on."""
    camera = get_own_camera(session=session, owner=owner, camera_id=camera_id)
    _check_frame(width, height)
    validate_zones(polygons, width, height)
    camera.privacy_zones = (
        {
            "width": width,
            "height": height,
            "polygons": [[[float(x), float(y)] for x, y in polygon] for polygon in polygons],
        }
        if polygons
        else None
    )
    camera.zones_at_ingest = apply_at_ingest
    session.flush()
    return camera


def clear_zones(*, session: Session, owner: User, camera_id: uuid.UUID) -> Camera:
    """Remove the camera's zones and stop filling them at ingest."""
    camera = get_own_camera(session=session, owner=owner, camera_id=camera_id)
    camera.privacy_zones = None
    camera.zones_at_ingest = False
    session.flush()
    return camera


def ingest_zones(camera: Camera) -> dict[str, Any] | None:
    """The stored zones to fill before this camera's clips are stored, or None."""
    stored = camera.privacy_zones
    if camera.zones_at_ingest and stored and stored.get("polygons"):
        return stored
    return None


def still_frame(*, session: Session, owner: User, camera_id: uuid.UUID) -> StillFrame:
    """The frame to draw the camera's zones on: its newest live clip's thumbnail (the
    owner-only thumbnail route serves it), else a blank 1280x720 frame."""
    camera = get_own_camera(session=session, owner=owner, camera_id=camera_id)
    newest = session.execute(
        select(Clip.id, Clip.width, Clip.height)
        .where(
            Clip.camera_id == camera.id,
            Clip.deleted_at.is_(None),
            Clip.thumbnail_key.is_not(None),
        )
        .order_by(Clip.started_at.desc())
        .limit(1)
    ).first()
    if newest is None:
        return StillFrame(clip_id=None, width=BLANK_WIDTH, height=BLANK_HEIGHT)
    # The thumbnail's size as make_thumbnail makes it (at most 320 wide, even sides); the
    # page's script reads the image's own size, this is for the form without script.
    width = min(THUMBNAIL_WIDTH, newest.width)
    height = round(newest.height * width / newest.width)
    return StillFrame(
        clip_id=newest.id, width=max(2, width - width % 2), height=max(2, height - height % 2)
    )


def zones_on_frame(camera: Camera, width: int, height: int) -> list[list[Point]]:
    """The camera's zones in the pixels of a ``width`` by ``height`` frame."""
    return scaled_zones(camera.privacy_zones, width, height)


def zones_view(camera: Camera) -> ZonesRead:
    """The camera's zones as stored (the frame they were drawn on, null without zones)."""
    stored = camera.privacy_zones or {}
    return ZonesRead(
        camera_id=camera.id,
        width=stored.get("width"),
        height=stored.get("height"),
        polygons=[[(x, y) for x, y in polygon] for polygon in stored.get("polygons", [])],
        apply_at_ingest=camera.zones_at_ingest,
    )


def points_text(polygons: Sequence[Sequence[Point]]) -> str:
    """Polygons as the settings form writes them: one a line, ``x,y x,y x,y``."""
    return "\n".join(" ".join(f"{x:g},{y:g}" for x, y in polygon) for polygon in polygons)


def parse_points(text: str) -> list[list[Point]]:
    """The polygons of the settings form's text (one a line, ``x,y x,y x,y``; blank lines
    ignored), or ``InvalidInput`` (``zone_unreadable``) naming the line it cannot read."""
    polygons: list[list[Point]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        points: list[Point] = []
        for pair in line.split():
            x, comma, y = pair.partition(",")
            try:
                points.append((float(x), float(y)))
            except ValueError:
                comma = ""
            if not comma:
                raise InvalidInput(
                    f'Privacy zones, line {number}: "{pair}" is not a point; write each '
                    'point as x,y with spaces between points, e.g. "10,10 200,10 100,150".',
                    code="zone_unreadable",
                )
        polygons.append(points)
    return polygons
