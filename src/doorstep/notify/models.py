from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.db import Base, JSONType, SerialKey, UTCDateTime, UuidKey, str_enum, utcnow


class JobStatus(enum.StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"


class OutboxJob(SerialKey, Base):
    """Work that must happen after a commit. Written in the same transaction as its cause."""

    __tablename__ = "outbox_jobs"
    __table_args__ = (Index("ix_outbox_jobs_status_run_after", "status", "run_after"),)

    kind: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[JobStatus] = mapped_column(
        str_enum(JobStatus, 10),
        default=JobStatus.pending,
    )
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=8)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    locked_by: Mapped[str | None] = mapped_column(String(80), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The HTTP request that queued it (its X-Request-ID), carried into the worker's logs.
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)


class Notification(UuidKey, Base):
    """An in-app notification in a user's inbox."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id_created_at", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(300), default=None)
    topic: Mapped[str] = mapped_column(String(40))
    # False when the user turned the in-app channel off: the row stays as the alert's record.
    in_inbox: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Webhook(UuidKey, Base):
    """A user's own endpoint that receives signed JSON alerts."""

    __tablename__ = "webhooks"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    url: Mapped[str] = mapped_column(String(1000))
    secret: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PeriodicRun(Base):
    """When a periodic task is next due, for every worker of the instance: the worker
    that moves ``due_at`` forward runs the task, the others leave it until then."""

    __tablename__ = "periodic_runs"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_run_by: Mapped[str | None] = mapped_column(String(80), default=None)
