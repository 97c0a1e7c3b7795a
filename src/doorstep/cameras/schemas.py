from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field, field_validator

from doorstep.cameras.models import CameraKind
from doorstep.inputs import (
    DeviceRef,
    Flag,
    Latitude,
    Line,
    Longitude,
    Moment,
    Number,
    OptionalFlag,
    OptionalLine,
    OptionalMoment,
    OptionalNumber,
    OptionalWholeNumber,
    Schema,
    WholeNumber,
)
from doorstep.media.kinds import EventKind


class CameraCreate(Schema):
    name: Line = Field(min_length=1, max_length=80)
    kind: CameraKind
    latitude: Latitude
    longitude: Longitude
    accepts_requests: Flag = True
    retention_days: WholeNumber = Field(default=60, ge=1, le=365)


class CameraUpdate(Schema):
    name: OptionalLine = Field(default=None, min_length=1, max_length=80)
    kind: CameraKind | None = None
    latitude: OptionalNumber = Field(default=None, ge=-90, le=90)
    longitude: OptionalNumber = Field(default=None, ge=-180, le=180)
    accepts_requests: OptionalFlag = None
    retention_days: OptionalWholeNumber = Field(default=None, ge=1, le=365)


class CameraRead(Schema):
    """The owner's own view of a camera: the only schema that carries the exact position."""

    id: uuid.UUID
    name: str
    kind: CameraKind
    latitude: float
    longitude: float
    coarse_cell: str
    accepts_requests: bool
    retention_days: int
    token_prefix: str | None
    token_active: bool
    created_at: datetime


class CameraIssued(CameraRead):
    ingest_token: str = Field(description="Shown once; the camera sends it as a bearer token.")


class CameraToken(Schema):
    camera_id: uuid.UUID
    ingest_token: str


class ClipRead(Schema):
    id: uuid.UUID
    camera_id: uuid.UUID
    started_at: datetime
    ended_at: datetime
    sha256: str
    size_bytes: int
    duration_s: float
    width: int
    height: int
    codec: str
    kept_at: datetime | None = Field(
        description="Set while the owner keeps the clip: retention leaves it until then."
    )
    video_url: str
    thumbnail_url: str


class EventCreate(Schema):
    """A local-first event: the clip stays on the device until the owner shares it."""

    # A device_ref is taken as sent or refused (DeviceRef), never trimmed: the device
    # looks its file up again by the reference it is given back (pending uploads).
    model_config = ConfigDict(str_strip_whitespace=False)

    kind: EventKind
    started_at: Moment
    ended_at: OptionalMoment = None
    device_ref: DeviceRef | None = Field(
        default=None,
        description="The device's own name for the clip, to find it again and to make a "
        "retry one event: 1 to 200 characters on one line, no leading or trailing spaces.",
    )

    @field_validator("started_at", "ended_at")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("times need a time zone (e.g. 2026-11-29T12:00:00Z)")
        return v


class EventBatch(Schema):
    events: list[EventCreate] = Field(min_length=1, max_length=1000)


class EventBatchResult(Schema):
    created: int
    duplicates: int = Field(description="Events whose device_ref was already recorded.")


class EventRead(Schema):
    id: uuid.UUID
    camera_id: uuid.UUID
    camera_name: str
    kind: EventKind
    started_at: datetime
    ended_at: datetime
    on_device: bool
    clip: ClipRead | None


class EventPage(Schema):
    events: list[EventRead]
    next_cursor: str | None


ZonePoint = tuple[Number, Number]
# Generous caps against abuse only: the limits an owner meets (16 zones, 3 to 64 points)
# are the service's, refused with a 400 that names the zone.
ZonePolygon = Annotated[list[ZonePoint], Field(max_length=1024)]


class ZonesUpdate(Schema):
    """Privacy zones drawn on a ``width`` by ``height`` frame, in its pixels."""

    width: WholeNumber = Field(ge=16, le=7680, description="The frame's width in pixels.")
    height: WholeNumber = Field(ge=16, le=7680, description="The frame's height in pixels.")
    polygons: list[ZonePolygon] = Field(
        max_length=256,
        description="Up to 16 polygons of 3 to 64 [x, y] points each, inside the frame, "
        "whose outline does not cross itself. An empty list clears the zones.",
    )
    apply_at_ingest: Flag = Field(
        default=False,
        description="Also fill the zones before clips are stored, so the area is never kept.",
    )


class ZonesRead(Schema):
    camera_id: uuid.UUID
    width: int | None = Field(description="The frame the zones were drawn on (null: no zones).")
    height: int | None
    polygons: list[list[ZonePoint]]
    apply_at_ingest: bool
