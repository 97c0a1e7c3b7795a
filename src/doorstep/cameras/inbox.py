"""The owner's inbox: who may see which events and clips ("readable" queries), the
timeline of his events, and the views of an event and a clip.

Other domains: the actor arrives as an accounts ``User`` (its id and nothing more is
read); no query here reads another domain's table.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, Subquery, and_, or_, select
from sqlalchemy.orm import Session

from doorstep import paging
from doorstep.accounts.models import User
from doorstep.cameras.models import Camera, Clip, MotionEvent
from doorstep.cameras.schemas import ClipRead, EventRead
from doorstep.errors import found
from doorstep.media.kinds import EventKind
from doorstep.views import view_of


def readable_events(*, actor: User) -> Select[MotionEvent, Camera, Clip]:
    """Events this actor may see: only those of his own cameras."""
    return (
        select(MotionEvent, Camera, Clip)
        .join(Camera, Camera.id == MotionEvent.camera_id)
        .outerjoin(Clip, Clip.id == MotionEvent.clip_id)
        .where(MotionEvent.owner_id == actor.id)
    )


def readable_clips(*, actor: User) -> Select[Clip]:
    """Clips this actor may watch: his own, not deleted."""
    return select(Clip).where(Clip.owner_id == actor.id, Clip.deleted_at.is_(None))


def live_clips() -> Subquery:
    """Every owner's clips that are not deleted, as :func:`readable_clips` shows each owner
    his own: for one statement that reads rows of many owners, joined on ``id`` and on
    ``owner_id`` (so a clip is found only for its owner's row)."""
    return (
        select(Clip.id, Clip.owner_id, Clip.started_at, Clip.duration_s, Clip.width, Clip.height)
        .where(Clip.deleted_at.is_(None))
        .subquery("live_clips")
    )


def _encode_cursor(event: MotionEvent) -> str:
    return paging.encode_cursor(event.started_at, event.id)


@dataclass
class TimelinePage:
    rows: Sequence[tuple[MotionEvent, Camera, Clip | None]]
    next_cursor: str | None


def timeline(
    *,
    session: Session,
    owner: User,
    camera_id: uuid.UUID | None = None,
    kinds: list[EventKind] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    on_device: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> TimelinePage:
    """The owner's events, newest first, keyset-paginated (stable while new events arrive)."""
    limit = max(1, min(limit, 200))
    stmt = readable_events(actor=owner)
    if camera_id is not None:
        stmt = stmt.where(MotionEvent.camera_id == camera_id)
    if kinds:
        stmt = stmt.where(MotionEvent.kind.in_(kinds))
    if since is not None:
        stmt = stmt.where(MotionEvent.started_at >= since)
    if until is not None:
        stmt = stmt.where(MotionEvent.started_at < until)
    if on_device is not None:
        stmt = stmt.where(MotionEvent.on_device.is_(on_device))
    if cursor:
        at, event_id = paging.decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                MotionEvent.started_at < at,
                and_(MotionEvent.started_at == at, MotionEvent.id < event_id),
            )
        )
    rows = session.execute(
        stmt.order_by(MotionEvent.started_at.desc(), MotionEvent.id.desc()).limit(limit + 1)
    ).all()
    next_cursor = _encode_cursor(rows[limit - 1][0]) if len(rows) > limit else None
    return TimelinePage(rows=rows[:limit], next_cursor=next_cursor)


def get_own_event(
    *, session: Session, owner: User, event_id: uuid.UUID
) -> tuple[MotionEvent, Camera, Clip | None]:
    row = found(
        session.execute(readable_events(actor=owner).where(MotionEvent.id == event_id)).first(),
        "No such event.",
        code="event_not_found",
    )
    return row[0], row[1], row[2]


def get_own_clip(*, session: Session, owner: User, clip_id: uuid.UUID) -> Clip:
    return found(
        session.scalar(readable_clips(actor=owner).where(Clip.id == clip_id)),
        "No such clip.",
        code="clip_not_found",
    )


def clip_view(clip: Clip) -> ClipRead:
    return view_of(
        ClipRead,
        clip,
        video_url=f"/media/clips/{clip.id}.mp4",
        thumbnail_url=f"/media/clips/{clip.id}.jpg",
    )


def event_view(event: MotionEvent, camera: Camera, clip: Clip | None) -> EventRead:
    live_clip = clip if clip is not None and clip.deleted_at is None else None
    return view_of(
        EventRead,
        event,
        camera_id=camera.id,
        camera_name=camera.name,
        clip=clip_view(live_clip) if live_clip else None,
    )


def clip_file_key(clip: Clip, *, thumbnail: bool) -> str:
    """The storage key of a live clip's video (or thumbnail); 404 once its file is deleted."""
    key = clip.thumbnail_key if thumbnail else clip.storage_key
    live_key = key if clip.deleted_at is None else None
    return found(live_key, "This clip's file was deleted.", code="clip_deleted")
