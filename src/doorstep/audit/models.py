"""The audit log's table."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.db import Base, JSONType, UTCDateTime, utcnow


class AuditRecord(Base):
    """One append-only entry of the audit log.

    Each record holds the hash of the one before it (``prev_hash``) and its own
    hash over its canonical content, so a changed, removed or reordered record
    breaks the chain. ``seq`` is the chain position, gap-free from 1.
    """

    __tablename__ = "audit_records"
    __table_args__ = (Index("ix_audit_records_subject", "subject_type", "subject_id"),)

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None, index=True)
    actor_label: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60), index=True)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Public records (agency actions, policy, moderation) appear in the public log download.
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
