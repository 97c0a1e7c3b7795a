"""Pydantic in/out for the feed. Only ``HomeRead`` carries a position (the resident's own)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from doorstep.feed.areas import DEFAULT_RADIUS_MI, MAX_RADIUS_MI, MIN_RADIUS_MI
from doorstep.feed.models import Category, PostStatus, ReportReason
from doorstep.inputs import (
    Flag,
    Latitude,
    Line,
    Longitude,
    Number,
    OptionalLine,
    OptionalNumber,
    OptionalText,
    Schema,
    Text,
)

# ---------------------------------------------------------------- home


class HomeUpdate(Schema):
    latitude: Latitude
    longitude: Longitude
    radius_mi: Number = Field(default=DEFAULT_RADIUS_MI, ge=MIN_RADIUS_MI, le=MAX_RADIUS_MI)
    alert_categories: list[Category] = Field(default_factory=list)


class HomeRead(Schema):
    """The resident's own view of his home: the only feed schema with a position."""

    latitude: float
    longitude: float
    coarse_cell: str
    radius_mi: float
    alert_categories: list[Category]


# ---------------------------------------------------------------- posts


class PersonFields(Schema):
    """What the person did (asked first), then at least two details beyond race.

    Also the shape a stored description is read back in, so it takes what was stored
    before the text rule; what a client sends is checked by ``PersonCreate``."""

    behavior: str = Field(default="", max_length=1000)
    clothing: str | None = Field(default=None, max_length=300)
    hair: str | None = Field(default=None, max_length=300)
    build: str | None = Field(default=None, max_length=300)
    shoes: str | None = Field(default=None, max_length=300)
    distinguishing_features: str | None = Field(default=None, max_length=300)
    other: str | None = Field(default=None, max_length=300)


class PersonCreate(PersonFields):
    """A description as a client sends it: what he did is free text, each detail one line."""

    behavior: Text = Field(default="", max_length=1000)
    clothing: OptionalLine = Field(default=None, max_length=300)
    hair: OptionalLine = Field(default=None, max_length=300)
    build: OptionalLine = Field(default=None, max_length=300)
    shoes: OptionalLine = Field(default=None, max_length=300)
    distinguishing_features: OptionalLine = Field(default=None, max_length=300)
    other: OptionalLine = Field(default=None, max_length=300)


class PostCreate(Schema):
    category: Category
    title: Line = Field(min_length=3, max_length=120)
    body: Text = Field(min_length=1, max_length=5000)
    person: PersonCreate | None = None
    clip_id: uuid.UUID | None = None
    # Where it happened; the post keeps only its coarse cell. Defaults to the author's home.
    latitude: OptionalNumber = Field(default=None, ge=-90, le=90)
    longitude: OptionalNumber = Field(default=None, ge=-180, le=180)
    # Post for the agency the author is a verified member of.
    official: Flag = False
    confirm_personal_data: Flag = False


class PostUpdate(Schema):
    category: Category | None = None
    title: OptionalLine = Field(default=None, min_length=3, max_length=120)
    body: OptionalText = Field(default=None, min_length=1, max_length=5000)
    person: PersonCreate | None = None
    remove_person: Flag = False
    # A clip of the author's own to share instead (or for the first time).
    clip_id: uuid.UUID | None = None
    remove_clip: Flag = False
    confirm_personal_data: Flag = False


class PostClip(Schema):
    started_at: datetime
    duration_s: float
    width: int
    height: int
    video_url: str
    thumbnail_url: str


class AgencyRef(Schema):
    id: uuid.UUID
    name: str


class PostRead(Schema):
    id: uuid.UUID
    category: Category
    title: str
    body: str
    person: PersonFields | None
    coarse_cell: str = Field(description="The post's area: an H3 cell (coarse resolution).")
    official: bool
    footage_request_id: uuid.UUID | None = Field(
        default=None, description="Set when the post announces an agency's footage request."
    )
    agency: AgencyRef | None
    author_name: str
    is_mine: bool
    status: PostStatus
    status_reason: str | None = Field(
        default=None, description="Why it was held, rejected or hidden (author, moderators)."
    )
    created_at: datetime
    published_at: datetime | None
    edited_at: datetime | None
    clip: PostClip | None = Field(
        description="The redacted copy of the shared clip, once it is ready."
    )
    clip_status: str | None = Field(
        default=None,
        description="The author's view of the copy: processing, ready or failed.",
    )
    clip_status_message: str | None = Field(
        default=None, description="For the author: why neighbours do not see the clip yet."
    )
    comment_count: int


class FeedPage(Schema):
    posts: list[PostRead]
    next_cursor: str | None


class FeedMap(BaseModel):
    """A GeoJSON FeatureCollection: one feature per post, its geometry the coarse cell."""

    type: str = "FeatureCollection"
    features: list[dict[str, Any]]
    next_cursor: str | None


# ---------------------------------------------------------------- comments


class CommentCreate(Schema):
    body: Text = Field(min_length=1, max_length=2000)


class CommentUpdate(CommentCreate):
    pass


class CommentRead(Schema):
    id: uuid.UUID
    post_id: uuid.UUID
    body: str
    author_name: str
    is_mine: bool
    is_hidden: bool
    hidden_reason: str | None
    created_at: datetime
    edited_at: datetime | None


# ---------------------------------------------------------------- reports and moderation


class ReportCreate(Schema):
    reason: ReportReason
    note: OptionalText = Field(default=None, max_length=1000)


class ReportRead(Schema):
    id: uuid.UUID
    post_id: uuid.UUID
    comment_id: uuid.UUID | None
    reason: ReportReason
    created_at: datetime


class ModerationReason(Schema):
    reason: Text = Field(min_length=3, max_length=1000)


class ApprovalNote(Schema):
    reason: OptionalText = Field(default=None, max_length=1000)


class QueueItem(Schema):
    subject_type: str  # "post" or "comment"
    post_id: uuid.UUID
    comment_id: uuid.UUID | None
    title: str
    excerpt: str
    category: Category
    status: str
    report_count: int
    reasons: dict[str, int]
    notes: list[str]
    has_profiling_report: bool
    first_reported_at: datetime


class FeedSettingsRead(Schema):
    hold_new_posts: bool
    updated_at: datetime


class FeedSettingsUpdate(Schema):
    hold_new_posts: Flag


# ---------------------------------------------------------------- tips


class TipCreate(Schema):
    body: Text = Field(min_length=3, max_length=5000)
    post_id: uuid.UUID | None = None
    anonymous: Flag = False


class TipSent(Schema):
    id: uuid.UUID
    agency_id: uuid.UUID
    anonymous: bool
    created_at: datetime


class TipRead(Schema):
    """What the agency sees: the message, and the sender only when he chose to be named."""

    id: uuid.UUID
    post_id: uuid.UUID | None
    post_title: str | None
    body: str
    anonymous: bool
    sender_name: str | None
    sender_email: str | None
    created_at: datetime
