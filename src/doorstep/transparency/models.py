from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import cast

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
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
    """One release of an external dataset of incidents attributed to agencies, as
    loaded: the file's SHA-256 makes loading the same file twice a no-op. A withdrawn
    release's incidents leave every figure; the withdrawal is audited and public."""

    __tablename__ = "accountability_imports"

    kind: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(300))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_added: Mapped[int] = mapped_column(Integer, default=0)
    rows_matched: Mapped[int] = mapped_column(Integer, default=0)
    rows_for_review: Mapped[int] = mapped_column(Integer, default=0)
    rows_already_loaded: Mapped[int] = mapped_column(Integer, default=0)
    rows_revised: Mapped[int | None] = mapped_column(Integer, default=0)
    source_url: Mapped[str | None] = mapped_column(String(500), default=None)
    released_on: Mapped[date | None] = mapped_column(Date, default=None)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text, default=None)


class AccountabilityRecord(SerialKey, Base):
    """One incident of an external dataset, attributed to one or more agencies (its
    ``AccountabilityAttribution`` rows). Kept whatever happens: a date not understood
    leaves ``occurred_on`` NULL with a ``review_note``, so it is listed for review.
    ``agency_name`` holds the dataset's names, joined by "; ", for display."""

    __tablename__ = "accountability_records"
    __table_args__ = (
        UniqueConstraint("kind", "fingerprint"),
        Index("ix_accountability_records_kind_occurred_on", "kind", "occurred_on"),
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
    review_note: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The date as written (kept for review when not understood).
    date_text: Mapped[str | None] = mapped_column(String(60), default=None)
    # Hash of what the row says: a release with the same id and another content revises it.
    content_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    # The release that last revised the row, and what the row said before it.
    revised_import_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("accountability_imports.id", ondelete="SET NULL"), default=None
    )
    previous: Mapped[dict[str, object] | None] = mapped_column(JSONType, default=None)


class AccountabilityAttribution(SerialKey, Base):
    """One agency named by an incident, as the dataset names it, and the agency here it
    matched (NULL, with a ``review_note``, when none or more than one)."""

    __tablename__ = "accountability_attributions"

    record_id: Mapped[int] = mapped_column(
        ForeignKey("accountability_records.id", ondelete="CASCADE"), index=True
    )
    agency_name: Mapped[str] = mapped_column(String(300))
    state_text: Mapped[str] = mapped_column(String(60))
    state: Mapped[str | None] = mapped_column(String(2), default=None)
    # The dataset's own agency id, and the agency's ORI codes ("A;B") when it gives them.
    source_agency_id: Mapped[str | None] = mapped_column(String(40), default=None)
    ori_codes: Mapped[str | None] = mapped_column(String(500), default=None)
    agency_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agencies.id", ondelete="SET NULL"), default=None, index=True
    )
    review_note: Mapped[str | None] = mapped_column(String(200), default=None)


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


# The two tables as Core tables, for the bulk inserts and updates of large releases.
RECORDS = cast(Table, AccountabilityRecord.__table__)
ATTRIBUTIONS = cast(Table, AccountabilityAttribution.__table__)
IMPORTS = cast(Table, AccountabilityImport.__table__)
