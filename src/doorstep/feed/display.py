"""What a viewer sees of posts: the post as read (its coarse cell, never a position), its
author or agency, the clip shared in it while its owner keeps it, and the map's GeoJSON
features.

The reason a post is held, rejected or hidden is shown only to its author and moderators.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
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
from doorstep.views import view_of


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


def _author_name(session: Session, post: Post, agencies: dict[uuid.UUID, str]) -> str:
    if post.agency_id is not None and post.agency_id in agencies:
        return agencies[post.agency_id]
    return account_service.get_user(session=session, user_id=post.author_id).display_name


def post_views(*, session: Session, viewer: User, posts: Sequence[Post]) -> list[PostRead]:
    """What a viewer sees of posts: the coarse cell, never a position; the reason a post is
    held, rejected or hidden only for its author and moderators."""
    if not posts:
        return []
    ids = [p.id for p in posts]
    counts: dict[uuid.UUID, int] = {
        post_id: count
        for post_id, count in session.execute(
            select(Comment.post_id, func.count())
            .where(Comment.post_id.in_(ids), Comment.is_hidden.is_(False))
            .group_by(Comment.post_id)
        )
    }
    agencies = {
        agency_id: agency_service.get_agency(session=session, agency_id=agency_id).name
        for agency_id in {p.agency_id for p in posts if p.agency_id is not None}
    }
    # The authors in one query, kept referenced: the name and clip lookups below then find
    # them in the session instead of running one query per post (31 of them a page).
    authors = account_service.list_users(session=session, user_ids={p.author_id for p in posts})
    views = []
    for post in posts:
        clip = shown_clip(session=session, post=post)
        mine = post.author_id == viewer.id
        sees_reason = post.author_id == viewer.id or is_moderator(viewer)
        views.append(
            view_of(
                PostRead,
                post,
                person=PersonFields.model_validate(post.person) if post.person else None,
                coarse_cell=areas.cell_label(post.coarse_cell),
                official=post.agency_id is not None,
                agency=AgencyRef(id=post.agency_id, name=agencies[post.agency_id])
                if post.agency_id is not None
                else None,
                author_name=_author_name(session, post, agencies),
                is_mine=post.author_id == viewer.id,
                status_reason=post.status_reason if sees_reason else None,
                clip_status=post.clip_copy_status if mine else None,
                clip_status_message=clip_copies.status_message(post) if mine else None,
                clip=PostClip(
                    started_at=clip.started_at,
                    duration_s=clip.duration_s,
                    width=clip.width,
                    height=clip.height,
                    video_url=f"/media/posts/{post.id}/clip.mp4",
                    thumbnail_url=f"/media/posts/{post.id}/clip.jpg",
                )
                if clip is not None
                else None,
                comment_count=counts.get(post.id, 0),
            )
        )
    del authors
    return views


def post_view(*, session: Session, viewer: User, post: Post) -> PostRead:
    return post_views(session=session, viewer=viewer, posts=[post])[0]


def map_features(
    *, session: Session, viewer: User, posts: Sequence[Post]
) -> list[dict[str, object]]:
    """The posts as GeoJSON features: each one's geometry is its coarse cell, nothing finer."""
    features: list[dict[str, object]] = []
    for view, post in zip(
        post_views(session=session, viewer=viewer, posts=posts), posts, strict=True
    ):
        features.append(
            {
                "type": "Feature",
                "id": str(view.id),
                "geometry": geo.cell_geojson(post.coarse_cell),
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
        )
    return features
