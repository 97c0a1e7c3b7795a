"""Neighbors: posts and the geo-local feed.

Privacy: a post keeps no position, only its coarse cell, which is all any view
shows; the feed (``feed.timeline``) reads the viewer's own home (``feed.homes``) to
find the cells within his radius. Posts are read through :func:`readable_posts`.
What a viewer sees of a post, and the clip shared in it, is made in
``feed.display``. Comments live in ``feed.comments``, moderation in
``feed.moderation``, alerts in ``feed.alerts``, tips in ``feed.tips``.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from doorstep import audit, geo
from doorstep.accounts.models import Role, User
from doorstep.accounts.service import AuditTrail
from doorstep.agencies import service as agency_service
from doorstep.cameras import inbox as camera_inbox
from doorstep.cameras.models import Clip
from doorstep.db import utcnow
from doorstep.errors import Conflict, Forbidden, InvalidInput, NotFound
from doorstep.feed import clip_copies, guardrails
from doorstep.feed.guardrails import PersonDescription
from doorstep.feed.homes import HomeRequired, get_home
from doorstep.feed.models import Category, FeedSettings, Post, PostStatus
from doorstep.feed.schemas import (
    PersonFields,
)
from doorstep.notify import outbox

POST_PUBLISHED_JOB = "feed.post_published"
SETTINGS_ROW_ID = 1
MAX_PAGE = 100


# The roles that moderate the feed.
MODERATOR_ROLES = frozenset({Role.moderator, Role.admin})


def is_moderator(user: User) -> bool:
    return user.role in MODERATOR_ROLES


# ---------------------------------------------------------------- settings


def current_settings(*, session: Session) -> FeedSettings:
    """The instance's feed options; the defaults (nothing held) until an admin changes them.

    Reading never writes: the row is created by the first change (``feed.moderation``).
    """
    row = session.get(FeedSettings, SETTINGS_ROW_ID)
    if row is None:
        return FeedSettings(id=SETTINGS_ROW_ID, hold_new_posts=False, updated_at=utcnow())
    return row


# ---------------------------------------------------------------- reading posts


def readable_posts(*, actor: User) -> Select[Post]:
    """Posts this actor may open: published ones, his own in any state, and for
    moderators every post."""
    stmt = select(Post)
    if is_moderator(actor):
        return stmt
    return stmt.where(or_(Post.status == PostStatus.published, Post.author_id == actor.id))


def get_post(*, session: Session, actor: User, post_id: uuid.UUID) -> Post:
    """A post the actor may read, or 404 (whether missing or not his to see)."""
    post = session.scalar(readable_posts(actor=actor).where(Post.id == post_id))
    if post is None:
        raise NotFound("No such post.", code="post_not_found")
    return post


def own_posts(*, session: Session, author: User, limit: int = MAX_PAGE) -> list[Post]:
    """The author's own posts in every state, newest first."""
    return list(
        session.scalars(
            select(Post)
            .where(Post.author_id == author.id)
            .order_by(Post.created_at.desc(), Post.id.desc())
            .limit(limit)
        )
    )


def get_own_post(*, session: Session, author: User, post_id: uuid.UUID) -> Post:
    """The author's own post; 404 if he cannot read it, 403 if it is someone else's."""
    post = get_post(session=session, actor=author, post_id=post_id)
    if post.author_id != author.id:
        raise Forbidden("Only the author can change this post.", code="not_author")
    return post


# ---------------------------------------------------------------- writing posts


def _post_location(
    *, session: Session, author: User, latitude: float | None, longitude: float | None
) -> int:
    if (latitude is None) != (longitude is None):
        raise InvalidInput("Send latitude and longitude together.", code="invalid_position")
    if latitude is not None and longitude is not None:
        geo.check_position(latitude, longitude)
        return geo.cell_of(latitude, longitude, geo.COARSE_RESOLUTION)
    home = get_home(session=session, owner=author)
    if home is None:
        raise HomeRequired(
            "Set your home position, or say where it happened: a post needs an area.",
        )
    return home.coarse_cell


def _check_clip(*, session: Session, author: User, clip_id: uuid.UUID) -> Clip:
    try:
        return camera_inbox.get_own_clip(session=session, owner=author, clip_id=clip_id)
    except NotFound as exc:
        raise NotFound("You can only share a clip of your own.", code="clip_not_found") from exc


def mark_published(*, session: Session, post: Post) -> None:
    """Publish a post now and queue its alerts (after the commit, via the outbox)."""
    post.status = PostStatus.published
    post.status_reason = None
    post.published_at = utcnow()
    session.flush()
    outbox.enqueue(session=session, kind=POST_PUBLISHED_JOB, payload={"post_id": str(post.id)})


def _check_guardrails(
    category: Category,
    title: str,
    body: str,
    description: PersonDescription | None,
    confirm_personal_data: bool,
) -> None:
    """The posting guardrails a new or edited post passes: behaviour first (a person
    described by more than race), personal data only when confirmed."""
    guardrails.check_person_rules(category=category, title=title, body=body, person=description)
    guardrails.check_personal_data(
        texts=[title, body, *(description.as_dict().values() if description else [])],
        confirmed=confirm_personal_data,
    )


def _official_agency(
    session: Session, author: User, latitude: float | None, longitude: float | None
) -> uuid.UUID:
    """The agency an official post speaks for: the author's verified agency (two-factor
    sign-in included); a place given lies inside its jurisdiction."""
    agency, _membership = agency_service.require_member(session=session, user=author)
    if (
        latitude is not None
        and longitude is not None
        and not geo.contains_point(geo.parse_area(agency.jurisdiction), latitude, longitude)
    ):
        raise InvalidInput(
            "An official post's place lies inside the agency's jurisdiction.",
            code="outside_jurisdiction",
        )
    return agency.id


_OFFICIAL_POSTS = AuditTrail("feed_post", is_public=True)


def _record_official(
    session: Session, author: User, action: audit.AuditAction, post: Post, **details: object
) -> None:
    """Audit an agency's action on its official post (public)."""
    _OFFICIAL_POSTS.record(
        session, author, action, post.id, agency_id=str(post.agency_id), **details
    )


def create_post(
    *,
    session: Session,
    author: User,
    category: Category,
    title: str,
    body: str,
    person: PersonFields | None = None,
    clip_id: uuid.UUID | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    official: bool = False,
    confirm_personal_data: bool = False,
) -> Post:
    """Post to the feed.

    Guarantees: the guardrails held (behaviour first; a person described by more than
    race; personal data only when confirmed); the clip, if any, is the author's own;
    the post keeps only the coarse cell of its place (the author's home unless he
    gave one). An official post comes from a verified agency member with two-factor
    sign-in and is a public, audited agency action. When the instance holds new posts,
    residents' posts wait for review; otherwise the post is published and its alerts
    are queued.
    """
    title, body = title.strip(), body.strip()
    description = PersonDescription.from_mapping(person.model_dump() if person else None)
    _check_guardrails(category, title, body, description, confirm_personal_data)
    agency_id = _official_agency(session, author, latitude, longitude) if official else None
    cell = _post_location(session=session, author=author, latitude=latitude, longitude=longitude)
    if clip_id is not None:
        _check_clip(session=session, author=author, clip_id=clip_id)
    post = Post(
        author_id=author.id,
        agency_id=agency_id,
        category=category,
        title=title,
        body=body,
        person=description.as_dict() if description else None,
        coarse_cell=cell,
        clip_id=clip_id,
        status=PostStatus.pending,
    )
    session.add(post)
    session.flush()
    if clip_id is not None:
        clip_copies.start_copy(session=session, post=post)
    if official:
        action = audit.AuditAction.FEED_OFFICIAL_POST
        _record_official(session, author, action, post, category=category.value, title=title)
    if current_settings(session=session).hold_new_posts and not official:
        post.status_reason = "Held for review: a moderator publishes it soon."
        session.flush()
    else:
        mark_published(session=session, post=post)
    return post


def publish_footage_request(
    *,
    session: Session,
    request_id: uuid.UUID,
    agency_id: uuid.UUID,
    author: User,
    latitude: float,
    longitude: float,
    title: str,
    body: str,
) -> Post:
    """An active footage request as a public post in the feed of its area, labelled with
    the agency's name, so neighbors without a camera see it too. Its place is the coarse
    cell of the area's centre; the request itself was checked against the policy."""
    post = Post(
        author_id=author.id,
        agency_id=agency_id,
        footage_request_id=request_id,
        category=Category.crime,
        title=title[:120],
        body=body,
        coarse_cell=geo.cell_of(latitude, longitude, geo.COARSE_RESOLUTION),
        status=PostStatus.pending,
    )
    session.add(post)
    session.flush()
    mark_published(session=session, post=post)
    return post


def update_post(
    *,
    session: Session,
    author: User,
    post_id: uuid.UUID,
    category: Category | None = None,
    title: str | None = None,
    body: str | None = None,
    person: PersonFields | None = None,
    remove_person: bool = False,
    clip_id: uuid.UUID | None = None,
    remove_clip: bool = False,
    confirm_personal_data: bool = False,
) -> Post:
    """The author edits his post; the result passes the same guardrails as a new post and
    is marked edited. While the instance holds new posts, an edited resident's post goes
    back to review (so an edit cannot slip past it). An official post is edited only by a
    current member of its agency, as a public audited action; a footage request's post
    carries the fixed notice and cannot be edited."""
    post = get_own_post(session=session, author=author, post_id=post_id)
    _check_official_change(session=session, author=author, post=post, action="edited")
    new_category = category or post.category
    new_title = title.strip() if title is not None else post.title
    new_body = body.strip() if body is not None else post.body
    if remove_person:
        description = None
    elif person is not None:
        description = PersonDescription.from_mapping(person.model_dump())
    else:
        description = PersonDescription.from_mapping(post.person)
    _check_guardrails(new_category, new_title, new_body, description, confirm_personal_data)
    post.category, post.title, post.body = new_category, new_title, new_body
    post.person = description.as_dict() if description else None
    _change_clip(session=session, author=author, post=post, clip_id=clip_id, remove=remove_clip)
    post.edited_at = utcnow()
    if (
        post.status == PostStatus.published
        and post.agency_id is None
        and current_settings(session=session).hold_new_posts
    ):
        post.status = PostStatus.pending
        post.status_reason = "Edited: held for review again."
    session.flush()
    return post


def _change_clip(
    *, session: Session, author: User, post: Post, clip_id: uuid.UUID | None, remove: bool
) -> None:
    """A clip removed from the post takes its copy along; a new one gets a new copy."""
    if remove:
        post.clip_id = None
        clip_copies.discard_copy(session=session, post=post)
    elif clip_id is not None and clip_id != post.clip_id:
        _check_clip(session=session, author=author, clip_id=clip_id)
        post.clip_id = clip_id
        clip_copies.start_copy(session=session, post=post)


def delete_post(*, session: Session, author: User, post_id: uuid.UUID) -> None:
    """The author deletes his post, with its comments and reports. Moderation records of
    it stay in the audit log."""
    post = get_own_post(session=session, author=author, post_id=post_id)
    _check_official_change(session=session, author=author, post=post, action="deleted")
    clip_copies.discard_copy(session=session, post=post)
    session.delete(post)
    session.flush()


_OFFICIAL_CHANGES = {
    "edited": audit.AuditAction.FEED_OFFICIAL_POST_EDITED,
    "deleted": audit.AuditAction.FEED_OFFICIAL_POST_DELETED,
}


def _check_official_change(*, session: Session, author: User, post: Post, action: str) -> None:
    if post.agency_id is None:
        return
    if post.footage_request_id is not None:
        raise Conflict(
            "A footage request's post carries the fixed notice; it cannot be changed. "
            "Close the request instead.",
            code="footage_request_post",
        )
    agency_service.require_member(session=session, user=author, agency_id=post.agency_id)
    _record_official(session, author, _OFFICIAL_CHANGES[action], post)
