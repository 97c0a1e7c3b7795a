from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.db import Base, JSONType, SerialKey, UTCDateTime, UuidKey, str_enum, utcnow
from doorstep.versions import REQUEST_LOG, tracked


class RequestStatus(enum.StrEnum):
    draft = "draft"
    pending_approval = "pending_approval"
    pending_review = "pending_review"
    active = "active"
    closed = "closed"
    withdrawn = "withdrawn"
    rejected = "rejected"


class IncidentType(enum.StrEnum):
    burglary = "burglary"
    robbery = "robbery"
    assault = "assault"
    homicide = "homicide"
    shooting = "shooting"
    vehicle_theft = "vehicle_theft"
    vehicle_break_in = "vehicle_break_in"
    package_theft = "package_theft"
    vandalism = "vandalism"
    arson = "arson"
    hit_and_run = "hit_and_run"
    missing_person = "missing_person"
    fraud = "fraud"
    other_crime = "other_crime"
    # Listed so the policy can refuse them by name (refused by default).
    first_amendment_activity = "first_amendment_activity"
    immigration_enforcement = "immigration_enforcement"
    general_announcement = "general_announcement"


class RecipientStatus(enum.StrEnum):
    pending = "pending"
    shared = "shared"
    declined = "declined"


class EvidenceStatus(enum.StrEnum):
    pending_upload = "pending_upload"
    # Shared, its redacted copy being made (footage.redaction): not yet the agency's.
    redacting = "redacting"
    # The copy could not be made: nothing was shared; redaction_error says why.
    redaction_failed = "redaction_failed"
    available = "available"
    withdrawn = "withdrawn"
    deleted = "deleted"


class FootageRequest(UuidKey, Base):
    __tablename__ = "footage_requests"
    __table_args__ = (
        Index("ix_footage_requests_agency_id_created_at", "agency_id", "created_at"),
        Index("ix_footage_requests_status_closes_at", "status", "closes_at"),
        Index("ix_footage_requests_agency_id_case_number", "agency_id", "case_number"),
        {"info": tracked(REQUEST_LOG)},
    )

    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"))
    created_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    case_number: Mapped[str | None] = mapped_column(String(60), default=None)
    incident_type: Mapped[IncidentType] = mapped_column(str_enum(IncidentType, 30))
    message: Mapped[str] = mapped_column(Text)
    investigator_contact: Mapped[str] = mapped_column(String(300))
    # The drawn area (GeoJSON, lon/lat). Circles are kept as drawn, and as a polygon.
    area: Mapped[dict[str, Any]] = mapped_column(JSONType)
    circle: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    area_sq_mi: Mapped[float] = mapped_column(Float)
    # Coarse H3 cells covering the area: the only form of the area the public sees.
    public_cells: Mapped[list[str]] = mapped_column(JSONType, default=list)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[RequestStatus] = mapped_column(
        str_enum(RequestStatus, 30), default=RequestStatus.draft
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    approved_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    review_note: Mapped[str | None] = mapped_column(Text, default=None)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    close_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    asked_count: Mapped[int] = mapped_column(Integer, default=0)


class Recipient(UuidKey, Base):
    """One owner asked by one request. Never shown to the agency, not even as a row count
    per owner: the agency sees totals only."""

    __tablename__ = "footage_recipients"
    __table_args__ = (
        UniqueConstraint("request_id", "owner_id"),
        Index("ix_footage_recipients_owner_id_created_at", "owner_id", "created_at"),
        Index("ix_footage_recipients_status_next_reminder_at", "status", "next_reminder_at"),
        {"info": tracked(REQUEST_LOG)},
    )

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("footage_requests.id", ondelete="CASCADE")
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    camera_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[RecipientStatus] = mapped_column(
        str_enum(RecipientStatus, 30), default=RecipientStatus.pending
    )
    # Pseudonym within the request ("Neighbor 3") unless the owner chose to be named.
    neighbor_number: Mapped[int] = mapped_column(Integer)
    reveal_identity: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    next_reminder_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Evidence(UuidKey, Base):
    """An immutable copy of a shared clip, with the SHA-256 checked on every read."""

    __tablename__ = "evidence"
    __table_args__ = (
        Index("ix_evidence_request_id_started_at", "request_id", "started_at"),
        Index("ix_evidence_status_delete_after", "status", "delete_after"),
        {"info": tracked(REQUEST_LOG)},
    )

    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("footage_requests.id"))
    recipient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("footage_recipients.id"), index=True)
    source_clip_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    source_event_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None, index=True)
    kind: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[EvidenceStatus] = mapped_column(str_enum(EvidenceStatus, 30))
    storage_key: Mapped[str | None] = mapped_column(String(300), default=None)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    duration_s: Mapped[float | None] = mapped_column(Float, default=None)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    shared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    first_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    held_for_case: Mapped[bool] = mapped_column(Boolean, default=False)
    delete_after: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The redacted copy: the owner's choices, the job's progress (0..1) and failure, the
    # original's hash (sha256 is the copy's) and the manifest of what was hidden.
    redaction_request: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    redaction_progress: Mapped[float | None] = mapped_column(Float, default=None)
    redaction_error: Mapped[str | None] = mapped_column(Text, default=None)
    original_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    redaction: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)


class EvidenceAccess(SerialKey, Base):
    """Every view, download and export of evidence; the owner sees these."""

    __tablename__ = "evidence_accesses"
    __table_args__ = (Index("ix_evidence_accesses_evidence_id_at", "evidence_id", "at"),)

    evidence_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("evidence.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"))
    action: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OwnerRequestSettings(Base):
    """An owner's answer to all requests: opted out, and whether he wants reminders."""

    __tablename__ = "owner_request_settings"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    reminders: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgencyMute(Base):
    __tablename__ = "agency_mutes"

    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), primary_key=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PolicyRecord(UuidKey, Base):
    """The policy in force: one instance row (agency_id NULL) and optional agency overrides.

    ``settings`` holds only the values set at this level; the effective policy is
    the defaults, then the instance row, then the agency's overrides.
    """

    __tablename__ = "policies"
    __table_args__ = {"info": tracked(REQUEST_LOG)}

    agency_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), unique=True, default=None
    )
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)


class PolicyVersion(SerialKey, Base):
    """Every change of a policy level, kept forever for the public change history."""

    __tablename__ = "policy_versions"

    agency_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None, index=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    changed: Mapped[dict[str, Any]] = mapped_column(JSONType)
    reason: Mapped[str] = mapped_column(String(2000))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
