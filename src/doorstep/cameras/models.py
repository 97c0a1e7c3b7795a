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
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.db import Base, JSONType, UTCDateTime, UuidKey, str_enum, utcnow
from doorstep.media.kinds import EventKind


class CameraKind(enum.StrEnum):
    doorbell = "doorbell"
    floodlight = "floodlight"
    indoor = "indoor"
    other = "other"


class Camera(UuidKey, Base):
    __tablename__ = "cameras"
    # Targeting reads all of these for the cells of an area: one index answers it alone.
    __table_args__ = (
        Index(
            "ix_cameras_targeting",
            "index_cell",
            "accepts_requests",
            "owner_id",
            "exact_longitude",
            "exact_latitude",
            "id",
        ),
    )

    # Typed here, not only through the foreign key: targeting reads it with Core before the
    # users table may be known, and an untyped column would come back as SQLite's text.
    owner_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(80))
    kind: Mapped[CameraKind] = mapped_column(str_enum(CameraKind))
    # The exact position is the owner's alone. Nothing but the owner's own views reads it.
    exact_latitude: Mapped[float] = mapped_column(Float)
    exact_longitude: Mapped[float] = mapped_column(Float)
    # H3 cell at the index resolution: the prefilter for geographic lookups. Never shown.
    index_cell: Mapped[int] = mapped_column(BigInteger)
    # H3 cell at the coarse resolution: what any other view of the camera gets.
    coarse_cell: Mapped[int] = mapped_column(BigInteger, index=True)
    accepts_requests: Mapped[bool] = mapped_column(Boolean, default=True)
    retention_days: Mapped[int] = mapped_column(Integer, default=60)
    # The owner's privacy zones: {"width", "height", "polygons"} in that frame's pixels
    # (cameras.zones). Filled in every copy that leaves him; before storing when
    # zones_at_ingest.
    privacy_zones: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    zones_at_ingest: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    token_prefix: Mapped[str | None] = mapped_column(String(16), default=None)
    token_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The end of the last window of local-first events whose alert is queued (see
    # ``cameras.event_alerts``): an event before it is counted in that alert.
    alerted_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Clip(UuidKey, Base):
    """A stored video file. Deleted clips keep their row (hash, times) with the file gone."""

    __tablename__ = "clips"
    __table_args__ = (
        Index("ix_clips_camera_id_started_at", "camera_id", "started_at"),
        # The retention sweep reads only live clips nobody keeps, per camera and by age;
        # deleted rows stay forever, so the index leaves them (and kept clips) out.
        Index(
            "ix_clips_retention_due",
            "camera_id",
            "started_at",
            sqlite_where=text("deleted_at IS NULL AND kept_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL AND kept_at IS NULL"),
        ),
        # An owner's kept clips, counted against the instance's maximum.
        Index(
            "ix_clips_owner_id_kept",
            "owner_id",
            sqlite_where=text("kept_at IS NOT NULL"),
            postgresql_where=text("kept_at IS NOT NULL"),
        ),
    )

    camera_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    # Typed here, not only through the foreign key: targeting reads it with Core before the
    # users table may be known, and an untyped column would come back as SQLite's text.
    owner_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    storage_key: Mapped[str | None] = mapped_column(String(300))
    thumbnail_key: Mapped[str | None] = mapped_column(String(300))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    duration_s: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    codec: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    deleted_reason: Mapped[str | None] = mapped_column(String(20), default=None)
    # Set while the owner keeps the clip: the retention sweep leaves it until he stops.
    kept_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class MotionEvent(UuidKey, Base):
    """Something a camera saw. Its clip is stored here, or kept on the owner's device.

    On PostgreSQL the table is partitioned by month of ``started_at`` (cameras.partitions):
    its key there is ``(id, started_at)``, and the two unique rules below are kept by the
    ``motion_event_keys`` table and its trigger, since a partitioned table's unique index
    must hold the partition key. SQLite has the one table as declared here.
    """

    __tablename__ = "motion_events"
    __table_args__ = (
        Index("ix_motion_events_camera_id_started_at", "camera_id", "started_at"),
        Index("ix_motion_events_owner_id_started_at", "owner_id", "started_at"),
        # A device's own reference names one event per camera (retries stay one event).
        Index(
            "uq_motion_events_camera_id_device_ref",
            "camera_id",
            "device_ref",
            unique=True,
            sqlite_where=text("device_ref IS NOT NULL"),
            postgresql_where=text("device_ref IS NOT NULL"),
        ),
    )

    camera_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[EventKind] = mapped_column(str_enum(EventKind))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # True while the clip stays on the owner's device (local-first).
    on_device: Mapped[bool] = mapped_column(Boolean, default=False)
    # The device's own reference, so it can find the file again when the owner shares it.
    device_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    clip_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("clips.id", ondelete="SET NULL"), default=None, unique=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
