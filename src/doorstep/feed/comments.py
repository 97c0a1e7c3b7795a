"""Comments on posts: who may read them, and the author's edits and deletions."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.accounts.models import User
from doorstep.db import utcnow
from doorstep.errors import Conflict, Forbidden, InvalidInput, NotFound
from doorstep.feed.models import Comment, Post, PostStatus
from doorstep.feed.schemas import CommentRead
from doorstep.feed.service import get_post, is_moderator


def readable_comments(*, actor: User, post: Post) -> Select[Comment]:
    """Comments of a post the actor may see: visible ones, his own, all for moderators."""
    stmt = select(Comment).where(Comment.post_id == post.id)
    if not is_moderator(actor):
        stmt = stmt.where(or_(Comment.is_hidden.is_(False), Comment.author_id == actor.id))
    return stmt


def list_comments(*, session: Session, viewer: User, post_id: uuid.UUID) -> list[Comment]:
    post = get_post(session=session, actor=viewer, post_id=post_id)
    return list(
        session.scalars(
            readable_comments(actor=viewer, post=post).order_by(Comment.created_at, Comment.id)
        )
    )


def get_comment(*, session: Session, actor: User, comment_id: uuid.UUID) -> Comment:
    """A comment the actor may read (its post readable too), or 404."""
    comment = session.get(Comment, comment_id)
    if comment is None:
        raise NotFound("No such comment.", code="comment_not_found")
    post = get_post(session=session, actor=actor, post_id=comment.post_id)
    if session.scalar(readable_comments(actor=actor, post=post).where(Comment.id == comment_id)):
        return comment
    raise NotFound("No such comment.", code="comment_not_found")


def add_comment(*, session: Session, author: User, post_id: uuid.UUID, body: str) -> Comment:
    """Comment on a published post the author can read."""
    post = get_post(session=session, actor=author, post_id=post_id)
    if post.status != PostStatus.published:
        raise Conflict("Comments open when the post is published.", code="post_not_published")
    text = body.strip()
    if not text:
        raise InvalidInput("Write something first.", code="empty_comment")
    comment = Comment(post_id=post.id, author_id=author.id, body=text)
    session.add(comment)
    session.flush()
    return comment


def get_own_comment(*, session: Session, author: User, comment_id: uuid.UUID) -> Comment:
    """A comment its author may change: 404 when unreadable, 403 for anyone else's."""
    comment = get_comment(session=session, actor=author, comment_id=comment_id)
    if comment.author_id != author.id:
        raise Forbidden("Only the author can change this comment.", code="not_author")
    return comment


def update_comment(*, session: Session, author: User, comment_id: uuid.UUID, body: str) -> Comment:
    """The author edits his comment; it is marked edited."""
    comment = get_own_comment(session=session, author=author, comment_id=comment_id)
    text = body.strip()
    if not text:
        raise InvalidInput("Write something first.", code="empty_comment")
    comment.body = text
    comment.edited_at = utcnow()
    session.flush()
    return comment


def delete_comment(*, session: Session, author: User, comment_id: uuid.UUID) -> uuid.UUID:
    """The author deletes his comment; returns its post's id."""
    comment = get_own_comment(session=session, author=author, comment_id=comment_id)
    post_id = comment.post_id
    session.delete(comment)
    session.flush()
    return post_id


def comment_views(
    *, session: Session, viewer: User, comments: Sequence[Comment]
) -> list[CommentRead]:
    return [
        CommentRead(
            id=c.id,
            post_id=c.post_id,
            body=c.body,
            author_name=account_service.get_user(session=session, user_id=c.author_id).display_name,
            is_mine=c.author_id == viewer.id,
            is_hidden=c.is_hidden,
            hidden_reason=c.hidden_reason
            if (c.author_id == viewer.id or is_moderator(viewer))
            else None,
            created_at=c.created_at,
            edited_at=c.edited_at,
        )
        for c in comments
    ]
