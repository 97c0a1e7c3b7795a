"""Neighbors: homes, posts, comments, reports, tips, alert digests and the feed's settings.

Privacy: a home's exact position is its owner's alone (like a camera's). A post
keeps no position at all, only its coarse H3 cell: that cell is what everyone
sees and what the feed query reads.
"""

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


class Category(enum.StrEnum):
    crime = "crime"
    safety = "safety"
    unexpected_activity = "unexpected_activity"
    lost_found_pet = "lost_found_pet"
    community = "community"


class PostStatus(enum.StrEnum):
    # Held for a moderator's review (when the instance holds new posts).
    pending = "pending"
    published = "published"
    # Refused at review; seen by its author alone, with the reason.
    rejected = "rejected"
    # Hidden by a moderator after publication; restorable.
    hidden = "hidden"


class ReportReason(enum.StrEnum):
    profiling = "profiling"
    false_information = "false_information"
    harassment = "harassment"
    private_information = "private_information"
    spam = "spam"
    other = "other"


class Home(Base):
    """Where a resident's feed is centred, how far it reaches, and what alerts him."""

    __tablename__ = "feed_homes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # The exact position is the resident's alone: only his own views read it.
    exact_latitude: Mapped[float] = mapped_column(Float)
    exact_longitude: Mapped[float] = mapped_column(Float)
    # The coarse cell: the prefilter when a new post looks for the homes it alerts.
    coarse_cell: Mapped[int] = mapped_column(BigInteger, index=True)
    radius_m: Mapped[float] = mapped_column(Float)
    alert_categories: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # When he was last alerted, and when his pending digest is due (None: no digest queued).
    last_alert_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    digest_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Post(UuidKey, Base):
    __tablename__ = "feed_posts"
    __table_args__ = (
        # The feed: each cell within the radius, newest first (ties by id), then merged.
        # PostgreSQL keeps status and category in it, so a scan filters without the table.
        Index(
            "ix_feed_posts_coarse_cell_published_at_id",
            "coarse_cell",
            "published_at",
            "id",
            postgresql_include=["status", "category"],
        ),
        Index("ix_feed_posts_status_created_at", "status", "created_at"),
    )

    author_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # Set on official posts: the verified agency the author posted for.
    agency_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agencies.id", ondelete="CASCADE"), default=None, index=True
    )
    category: Mapped[Category] = mapped_column(str_enum(Category, 30))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    # What the person did and what he looked like (crime and unexpected activity only).
    person: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    # The area: an H3 cell at the coarse resolution. No finer position is kept.
    coarse_cell: Mapped[int] = mapped_column(BigInteger)
    # The author's own clip, shared in the post while he keeps it.
    clip_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("clips.id", ondelete="SET NULL"), default=None, index=True
    )
    # What neighbours see of it: a redacted copy (feed.clip_copies), its state
    # (processing, ready, failed) and the manifest of what was hidden.
    clip_copy_key: Mapped[str | None] = mapped_column(String(300), default=None)
    clip_copy_status: Mapped[str | None] = mapped_column(String(20), default=None)
    clip_copy_redaction: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    # Set when the post announces an agency's footage request (published on activation).
    footage_request_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("footage_requests.id", ondelete="CASCADE"), default=None, unique=True
    )
    status: Mapped[PostStatus] = mapped_column(str_enum(PostStatus, 30))
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The feed's order: a post held for review takes its place when it is approved.
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Comment(UuidKey, Base):
    __tablename__ = "feed_comments"
    __table_args__ = (Index("ix_feed_comments_post_id_created_at", "post_id", "created_at"),)

    post_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("feed_posts.id", ondelete="CASCADE"))
    author_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    body: Mapped[str] = mapped_column(Text)
    is_hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    hidden_reason: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Report(UuidKey, Base):
    """A signed-in person's report of a post or a comment (exactly one of the two)."""

    __tablename__ = "feed_reports"
    __table_args__ = (Index("ix_feed_reports_resolved_at_created_at", "resolved_at", "created_at"),)

    post_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("feed_posts.id", ondelete="CASCADE"), index=True
    )
    comment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("feed_comments.id", ondelete="CASCADE"), default=None, index=True
    )
    reporter_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[ReportReason] = mapped_column(str_enum(ReportReason, 30))
    note: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # "hidden" or "dismissed"
    resolution: Mapped[str | None] = mapped_column(String(20), default=None)


class Tip(UuidKey, Base):
    """A private message to an agency. An anonymous tip keeps no reference to any account."""

    __tablename__ = "feed_tips"
    __table_args__ = (Index("ix_feed_tips_agency_id_created_at", "agency_id", "created_at"),)

    agency_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id", ondelete="CASCADE"))
    post_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("feed_posts.id", ondelete="SET NULL"), default=None
    )
    # None for an anonymous tip: then nothing in the row points at the sender.
    sender_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DigestItem(SerialKey, Base):
    """A post that will reach a resident in his next alert digest, not in an alert of its own."""

    __tablename__ = "feed_digest_items"
    __table_args__ = (UniqueConstraint("user_id", "post_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    post_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("feed_posts.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeedSettings(Base):
    """The instance's feed options: one row (id 1), changed by an admin, audited."""

    __tablename__ = "feed_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hold_new_posts: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
