from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from doorstep.footage.models import IncidentType, RecipientStatus, RequestStatus
from doorstep.inputs import (
    Flag,
    Latitude,
    Line,
    Longitude,
    Moment,
    Number,
    OptionalFlag,
    OptionalLine,
    OptionalText,
    Schema,
    Text,
)


class Circle(Schema):
    latitude: Latitude
    longitude: Longitude
    radius_m: Number = Field(gt=0, le=50_000)


class RequestCreate(Schema):
    area: dict[str, Any] | None = Field(default=None, description="GeoJSON Polygon")
    circle: Circle | None = None
    window_start: Moment
    window_end: Moment
    case_number: OptionalLine = Field(default=None, max_length=60)
    incident_type: IncidentType
    message: Text = Field(max_length=5000)
    investigator_contact: Line = Field(min_length=1, max_length=300)


class RequestCounts(Schema):
    asked: int
    shared: int
    declined: int
    no_answer: int


class RequestRead(Schema):
    """A request as its agency sees it: counts, never who was asked."""

    id: uuid.UUID
    agency_id: uuid.UUID
    status: RequestStatus
    case_number: str | None
    incident_type: IncidentType
    message: str
    investigator_contact: str
    area: dict[str, Any]
    circle: dict[str, Any] | None
    area_sq_mi: float
    window_start: datetime
    window_end: datetime
    created_at: datetime
    submitted_at: datetime | None
    activated_at: datetime | None
    closes_at: datetime | None
    closed_at: datetime | None
    close_reason: str | None
    review_note: str | None
    counts: RequestCounts


class Review(Schema):
    approve: Flag
    note: OptionalText = Field(default=None, max_length=2000)


class CloseRequest(Schema):
    reason: Line = Field(default="resolved", pattern="^(resolved|no_longer_needed)$")


class EvidenceRead(Schema):
    """A shared clip as the agency sees it: the redacted copy, with the manifest of what
    was hidden and the original's hash (the original stays with its owner)."""

    id: uuid.UUID
    kind: str
    started_at: datetime
    ended_at: datetime
    sha256: str | None
    original_sha256: str | None
    redaction: dict[str, Any] | None
    size_bytes: int | None
    duration_s: float | None
    shared_by: str
    video_url: str


class HoldChange(Schema):
    held: Flag


class OwnerEvent(Schema):
    id: uuid.UUID
    camera_name: str
    kind: str
    started_at: datetime
    ended_at: datetime
    on_device: bool
    thumbnail_url: str | None


class OwnerRequestRead(Schema):
    """A request as an asked owner sees it: the notice, the area, and his own clips."""

    id: uuid.UUID
    agency_id: uuid.UUID
    agency_name: str
    status: RequestStatus
    case_number: str | None
    incident_type: IncidentType
    area: dict[str, Any]
    window_start: datetime
    window_end: datetime
    notice_title: str
    notice: str
    my_answer: RecipientStatus
    my_events: list[OwnerEvent]


class ManualBoxIn(Schema):
    """A box the owner draws over the clip, in frame pixels, hidden from start to end."""

    box: list[float] = Field(min_length=4, max_length=4, description="[x1, y1, x2, y2]")
    start_s: float = Field(0.0, ge=0)
    end_s: float = Field(ge=0)


class RemovalIn(Schema):
    """A false detection taken back: a track by its id, or a box over a time span."""

    track_id: str | None = Field(None, max_length=40)
    box: list[float] | None = Field(None, min_length=4, max_length=4)
    start_s: float = Field(0.0, ge=0)
    end_s: float | None = Field(None, ge=0)


class RedactionChoices(Schema):
    """What is hidden in the copy the agency receives. Faces, text and the camera's
    privacy zones are hidden unless turned off; ``unredacted`` sends the clip as recorded
    (tags still stripped), only by this explicit choice, counted in the public log."""

    faces: Flag = True
    text: Flag = True
    zones: Flag = True
    unredacted: Flag = False
    manual_boxes: list[ManualBoxIn] = Field(default_factory=list, max_length=32)
    removals: list[RemovalIn] = Field(default_factory=list, max_length=32)


class PreviewRead(Schema):
    """An owner's preview of the copy an agency would receive (``status``: preparing,
    ready or failed); ``manifest`` lists what was hidden, tracks by id."""

    id: str
    status: str
    progress: float
    error: str | None
    video_url: str | None
    manifest: dict[str, Any] | None


class ShareBody(Schema):
    event_ids: list[uuid.UUID] = Field(min_length=1, max_length=200)
    reveal_identity: Flag = False
    redaction: RedactionChoices = Field(default_factory=RedactionChoices)


class SharedEvidenceRead(Schema):
    id: uuid.UUID
    request_id: uuid.UUID
    agency_name: str
    status: str
    kind: str
    started_at: datetime
    shared_at: datetime
    sha256: str | None
    original_sha256: str | None
    redaction_progress: float | None
    redaction_error: str | None
    redaction: dict[str, Any] | None
    accesses: list[dict[str, Any]]


class RequestSettings(Schema):
    opted_out: OptionalFlag = None
    reminders: OptionalFlag = None


class RequestSettingsRead(Schema):
    opted_out: bool
    reminders: bool


class PendingUpload(Schema):
    evidence_id: uuid.UUID
    event_id: uuid.UUID
    device_ref: str | None
    started_at: datetime
    ended_at: datetime
