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
    id: uuid.UUID
    kind: str
    started_at: datetime
    ended_at: datetime
    sha256: str | None
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


class ShareBody(Schema):
    event_ids: list[uuid.UUID] = Field(min_length=1, max_length=200)
    reveal_identity: Flag = False


class SharedEvidenceRead(Schema):
    id: uuid.UUID
    request_id: uuid.UUID
    agency_name: str
    status: str
    kind: str
    started_at: datetime
    shared_at: datetime
    sha256: str | None
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
