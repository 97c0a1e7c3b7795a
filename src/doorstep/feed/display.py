"""What a viewer sees of posts: the post as read (its coarse cell, never a position), its
author or agency, the clip shared in it while its owner keeps it, and the map's GeoJSON
features.

The reason a post is held, rejected or hidden is shown only to its author and moderators.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import h3
from sqlalchemy import FromClause, Row, Select, and_, func, select
from sqlalchemy.orm import Session

from doorstep import geo
from doorstep.accounts import service as account_service
from doorstep.accounts.models import User
from doorstep.agencies import service as agency_service
from doorstep.cameras import inbox as camera_inbox
from doorstep.cameras.models import Clip
from doorstep.errors import NotFound
from doorstep.feed import areas, clip_copies
from doorstep.feed.models import Comment, Post
from doorstep.feed.schemas import AgencyRef, PersonFields, PostClip, PostRead
from doorstep.feed.service import get_post, is_moderator


def live_clip(*, session: Session, post: Post) -> Clip | None:
    """The post's clip while its owner still keeps it; None once he deleted it (or it aged
    out): deleting a clip removes it from the post."""
    if post.clip_id is None:
        return None
    author = account_service.get_user(session=session, user_id=post.author_id)
    try:
        return camera_inbox.get_own_clip(session=session, owner=author, clip_id=post.clip_id)
    except NotFound:
        return None


def shown_clip(*, session: Session, post: Post) -> Clip | None:
    """The post's clip as anyone sees it: only while its owner keeps it and once its
    redacted copy is ready (never the owner's file itself)."""
    if post.clip_copy_status != clip_copies.READY or post.clip_copy_key is None:
        return None
    return live_clip(session=session, post=post)


def post_clip_key(
    *, session: Session, viewer: User, post_id: uuid.UUID, thumbnail: bool
) -> tuple[Post, str]:
    """The storage key of a post's redacted clip copy (or its thumbnail), for a viewer who
    may read the post. 404 when the post is not his to read, the clip is no longer shared
    in it, or its copy is not ready."""
    post = get_post(session=session, actor=viewer, post_id=post_id)
    clip = shown_clip(session=session, post=post)
    if clip is None or post.clip_copy_key is None:
        raise NotFound("This post has no clip.", code="clip_not_found")
    key = post.clip_copy_key
    return post, clip_copies.thumbnail_key(key) if thumbnail else key


def view_statement(keys: FromClause) -> Select[Any]:
    """The one statement that reads what a viewer sees of the posts whose ids ``keys``
    holds (its ``id`` column): the post, its author's name or its agency's, its visible
    comments counted, and its clip while the author keeps it. One row per post, no
    position finer than the coarse cell."""
    clips = camera_inbox.live_clips()
    comments = (
        select(func.count())
        .where(Comment.post_id == Post.id, Comment.is_hidden.is_(False))
        .correlate(Post)
        .scalar_subquery()
    )
    return (
        select(
            *(Post.__table__.c[name] for name in _POST_COLUMNS),
            account_service.display_name_of(Post.author_id).label("author_display_name"),
            agency_service.name_of(Post.agency_id).label("agency_name"),
            comments.label("comment_count"),
            clips.c.id.label("live_clip_id"),
            clips.c.started_at.label("clip_started_at"),
            clips.c.duration_s.label("clip_duration_s"),
            clips.c.width.label("clip_width"),
            clips.c.height.label("clip_height"),
        )
        .select_from(keys)
        .join(Post, Post.id == keys.c.id)
        .outerjoin(clips, and_(clips.c.id == Post.clip_id, clips.c.owner_id == Post.author_id))
    )


# What a view reads of the post itself (the redaction manifest only for the author's
# message about a failed copy).
_POST_COLUMNS = (
    "id",
    "author_id",
    "agency_id",
    "footage_request_id",
    "category",
    "title",
    "body",
    "person",
    "coarse_cell",
    "status",
    "status_reason",
    "created_at",
    "published_at",
    "edited_at",
    "clip_copy_key",
    "clip_copy_status",
    "clip_copy_redaction",
)


def view_of(row: Row[Any], viewer_id: uuid.UUID, moderator: bool) -> PostRead:
    """A row of :func:`view_statement` as its viewer (``viewer_id``, a moderator or not)
    sees it: the reason a post is held,
    rejected or hidden, and the state of its clip's copy, only for its author (and the
    reason for moderators); the clip only once its redacted copy is ready."""
    mine = row.author_id == viewer_id
    shown = (
        row.clip_copy_status == clip_copies.READY
        and row.clip_copy_key is not None
        and row.live_clip_id is not None
    )
    official = row.agency_id is not None
    return PostRead(
        id=row.id,
        category=row.category,
        title=row.title,
        body=row.body,
        person=PersonFields.model_validate(row.person) if row.person else None,
        coarse_cell=areas.cell_label(row.coarse_cell),
        official=official,
        footage_request_id=row.footage_request_id,
        agency=AgencyRef(id=row.agency_id, name=row.agency_name) if official else None,
        author_name=row.agency_name if official else row.author_display_name,
        is_mine=mine,
        status=row.status,
        status_reason=row.status_reason if mine or moderator else None,
        created_at=row.created_at,
        published_at=row.published_at,
        edited_at=row.edited_at,
        clip=PostClip(
            started_at=row.clip_started_at,
            duration_s=row.clip_duration_s,
            width=row.clip_width,
            height=row.clip_height,
            video_url=f"/media/posts/{row.id}/clip.mp4",
            thumbnail_url=f"/media/posts/{row.id}/clip.jpg",
        )
        if shown
        else None,
        clip_status=row.clip_copy_status if mine else None,
        clip_status_message=clip_copies.status_message(
            row.clip_copy_status, row.clip_copy_redaction
        )
        if mine
        else None,
        comment_count=row.comment_count,
    )


def views_of(
    *,
    session: Session,
    viewer: User,
    statement: Select[Any],
    parameters: dict[str, Any] | None = None,
) -> list[PostRead]:
    """The rows of a :func:`view_statement` (in its order) as ``viewer`` sees them."""
    moderator = is_moderator(viewer)
    rows = session.execute(statement, parameters)
    return [view_of(row, viewer.id, moderator) for row in rows]


def post_views(*, session: Session, viewer: User, posts: Sequence[Post]) -> list[PostRead]:
    """What a viewer sees of posts, in their order, read in one statement: the coarse
    cell, never a position; the reason a post is held, rejected or hidden only for its
    author and moderators."""
    if not posts:
        return []
    keys = select(Post.id.label("id")).where(Post.id.in_([p.id for p in posts])).subquery("keys")
    by_id = {
        view.id: view
        for view in views_of(session=session, viewer=viewer, statement=view_statement(keys))
    }
    return [by_id[post.id] for post in posts]


def post_view(*, session: Session, viewer: User, post: Post) -> PostRead:
    return post_views(session=session, viewer=viewer, posts=[post])[0]


def map_features(views: Sequence[PostRead]) -> list[dict[str, object]]:
    """The posts as GeoJSON features: each one's geometry is its coarse cell, nothing finer."""
    return [
        {
            "type": "Feature",
            "id": str(view.id),
            "geometry": geo.cell_geojson(h3.str_to_int(view.coarse_cell)),
            "properties": {
                "title": view.title,
                "category": view.category.value,
                "official": view.official,
                "author_name": view.author_name,
                "published_at": view.published_at.isoformat() if view.published_at else None,
                "cell": view.coarse_cell,
                "url": f"/posts/{view.id}",
            },
        }
        for view in views
    ]
