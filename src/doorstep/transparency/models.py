from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.db import Base, JSONType, SerialKey, UTCDateTime, UuidKey, utcnow


class AuditDailyHead(Base):
    """The chain's head at the end of one UTC day, published on the portal.

    Anyone who saved a published head can later check that the log still leads to
    it: a rewritten past changes every hash after the change.
    """

    __tablename__ = "audit_daily_heads"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgencyStatement(Base):
    """An agency's acceptable-use statement and the uses it forbids, set by an instance
    admin and shown on the agency's public page. Every change is audited (public)."""

    __tablename__ = "agency_statements"

    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), primary_key=True
    )
    acceptable_use: Mapped[str] = mapped_column(Text, default="")
    prohibited_uses: Mapped[list[str]] = mapped_column(JSONType, default=list)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)


class AccountabilityImport(UuidKey, Base):
    """One load of an external dataset of incidents attributed to agencies."""

    __tablename__ = "accountability_imports"

    kind: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(300))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_added: Mapped[int] = mapped_column(Integer, default=0)
    rows_matched: Mapped[int] = mapped_column(Integer, default=0)
    rows_for_review: Mapped[int] = mapped_column(Integer, default=0)
    rows_already_loaded: Mapped[int] = mapped_column(Integer, default=0)


class AccountabilityRecord(SerialKey, Base):
    """One incident of an external dataset. Rows that match no agency (or whose date
    is not understood) are kept with ``agency_id`` NULL and a ``review_note``, so they
    can be reviewed and matched later instead of disappearing."""

    __tablename__ = "accountability_records"
    __table_args__ = (
        UniqueConstraint("kind", "fingerprint"),
        Index(
            "ix_accountability_records_kind_agency_id_occurred_on",
            "kind",
            "agency_id",
            "occurred_on",
        ),
    )

    import_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("accountability_imports.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    # The dataset's own id when it has one; otherwise the fingerprint is the row's content.
    external_id: Mapped[str | None] = mapped_column(String(120), default=None)
    fingerprint: Mapped[str] = mapped_column(String(64))
    row_number: Mapped[int] = mapped_column(Integer)
    agency_name: Mapped[str] = mapped_column(String(300))
    state_text: Mapped[str] = mapped_column(String(60))
    state: Mapped[str | None] = mapped_column(String(2), default=None)
    occurred_on: Mapped[date | None] = mapped_column(Date, default=None)
    agency_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agencies.id", ondelete="SET NULL"), default=None
    )
    review_note: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccountabilityAnalysis(UuidKey, Base):
    """The figures of one ``transparency analyze`` run: shown on the agency pages (latest
    run per kind) exactly as the command printed them."""

    __tablename__ = "accountability_analyses"
    __table_args__ = (Index("ix_accountability_analyses_kind_computed_at", "kind", "computed_at"),)

    kind: Mapped[str] = mapped_column(String(40))
    since_years: Mapped[int] = mapped_column(Integer)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    participating_agencies: Mapped[int] = mapped_column(Integer)
    agencies_with_incidents: Mapped[int] = mapped_column(Integer)
    incidents_total: Mapped[int] = mapped_column(Integer)
    incidents_participating: Mapped[int] = mapped_column(Integer)
    # {agency_id: incidents in the period}, for every participating agency.
    per_agency: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
