from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from doorstep.db import Base, JSONType, UTCDateTime, UuidKey, str_enum, utcnow
from doorstep.versions import REQUEST_LOG, tracked


class AgencyType(enum.StrEnum):
    police = "police"
    sheriff = "sheriff"
    fire = "fire"
    other = "other"


class AgencyStatus(enum.StrEnum):
    applied = "applied"
    verified = "verified"
    rejected = "rejected"
    suspended = "suspended"
    ended = "ended"


class IdentifierScheme(enum.StrEnum):
    """What an agency identifier is: another name it is known by, or a code it carries
    in an outside dataset."""

    alias = "alias"
    # The Washington Post's agency id (fatal police shootings, v2 agencies file).
    wapo = "wapo"
    # The FBI's Originating Agency Identifier.
    ori = "ori"


class MemberRole(enum.StrEnum):
    officer = "officer"
    supervisor = "supervisor"
    agency_admin = "agency_admin"


class InvitationEmailStatus(enum.StrEnum):
    """Where the invitation email stands, for the agency admin's list of invitations."""

    queued = "queued"
    sent = "sent"
    # The last attempt failed and another one is scheduled.
    retrying = "retrying"
    # No more attempts (no SMTP server, a refused address, or the retries ran out).
    failed = "failed"


class Agency(UuidKey, Base):
    __tablename__ = "agencies"
    __table_args__ = {"info": tracked(REQUEST_LOG)}

    name: Mapped[str] = mapped_column(String(200))
    agency_type: Mapped[AgencyType] = mapped_column(str_enum(AgencyType))
    city: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(2), index=True)
    # GeoJSON Polygon/MultiPolygon; public (an agency's jurisdiction is public record).
    jurisdiction: Mapped[dict[str, Any]] = mapped_column(JSONType)
    contact_email: Mapped[str] = mapped_column(String(320))
    website: Mapped[str] = mapped_column(String(500))
    status: Mapped[AgencyStatus] = mapped_column(
        str_enum(AgencyStatus), default=AgencyStatus.applied
    )
    applied_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Start of participation (first verification), suspension and end: shown on the public map.
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)


class AgencyMembership(UuidKey, Base):
    __tablename__ = "agency_memberships"
    __table_args__ = (UniqueConstraint("agency_id", "user_id"),)

    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[MemberRole] = mapped_column(str_enum(MemberRole))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AgencyInvitation(UuidKey, Base):
    """An invitation by email; the link carries a random token stored only as its hash."""

    __tablename__ = "agency_invitations"
    __table_args__ = (Index("ix_agency_invitations_agency_id_email", "agency_id", "email"),)

    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[MemberRole] = mapped_column(str_enum(MemberRole))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The link the agency admin copies (for instances without email): a second secret,
    # so sending or resending the email never breaks a link already handed over.
    link_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    # None for invitations from before the status was tracked.
    email_status: Mapped[InvitationEmailStatus | None] = mapped_column(
        str_enum(InvitationEmailStatus), default=InvitationEmailStatus.queued
    )
    email_error: Mapped[str | None] = mapped_column(Text, default=None)
    email_attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class AgencyIdentifier(UuidKey, Base):
    """A name or code by which outside datasets know an agency; added by an instance
    admin, audited and public."""

    __tablename__ = "agency_identifiers"
    __table_args__ = (UniqueConstraint("agency_id", "scheme", "value"),)

    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    scheme: Mapped[IdentifierScheme] = mapped_column(str_enum(IdentifierScheme))
    value: Mapped[str] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    added_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
