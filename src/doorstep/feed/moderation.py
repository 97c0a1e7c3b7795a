"""Moderation: hide and restore posts and comments, dismiss reports, review of held posts,
and the instance's "hold new posts" option. Filing reports and their queue are in
``feed.reports``.

Every moderation action is a public audit record written in the same transaction,
and the author of the post or comment is told, with the moderator's reason.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.accounts.models import Role, User
from doorstep.accounts.service import AuditTrail
from doorstep.db import utcnow
from doorstep.errors import Conflict, Forbidden, InvalidInput
from doorstep.feed import comments as feed_comments
from doorstep.feed import service as feed_service
from doorstep.feed.models import Comment, FeedSettings, Post, PostStatus, Report
from doorstep.notify import service as notify_service

QUEUE_LIMIT = 200


def require_moderator(user: User) -> None:
    if not feed_service.is_moderator(user):
        raise Forbidden("Only a moderator can do this.", code="moderator_only")


def _reason(reason: str | None, *, required: bool = True) -> str | None:
    text = (reason or "").strip()
    if required and len(text) < 3:
        raise InvalidInput(
            "Write the reason: the author reads it, and it is published in the audit log.",
            code="reason_required",
        )
    return text or None


# Every moderation action is public, on a post, a comment or the instance's settings.
_POSTS = AuditTrail("feed_post", is_public=True)
_COMMENTS = AuditTrail("feed_comment", is_public=True)
_SETTINGS = AuditTrail("feed_settings", is_public=True)


def _audit_and_tell(
    session: Session,
    actor: User,
    action: audit.AuditAction,
    subject: Post | Comment,
    text: str | None,
    *,
    title: str,
    body: str,
    **details: object,
) -> None:
    """Write the public audit record of a moderator's action on a post or comment (with
    the reason) and tell its author, in the same transaction."""
    if isinstance(subject, Post):
        trail, post_id = _POSTS, subject.id
        details["category"] = subject.category.value
    else:
        trail, post_id = _COMMENTS, subject.post_id
        details["post_id"] = str(subject.post_id)
    trail.record(session, actor, action, subject.id, reason=text, **details)
    notify_service.alert_user(
        session=session,
        user_id=subject.author_id,
        topic="feed_moderation",
        title=title,
        body=body,
        link=f"/posts/{post_id}",
    )
    session.flush()


def _post_in(
    session: Session,
    actor: User,
    post_id: uuid.UUID,
    reason: str | None,
    status: PostStatus,
    refusal: str,
    *,
    reason_required: bool = True,
) -> tuple[Post, str | None]:
    """The post a moderator acts on, with his reason: refused unless he is a moderator,
    wrote the reason (where required) and the post is in ``status``."""
    require_moderator(actor)
    text = _reason(reason, required=reason_required)
    post = feed_service.get_post(session=session, actor=actor, post_id=post_id)
    if post.status != status:
        raise Conflict(refusal.format(status=post.status.value), code="invalid_transition")
    return post, text


def open_reports_on(post_id: uuid.UUID, comment_id: uuid.UUID | None) -> ColumnElement[bool]:
    """The filter of the open reports on one item: the post itself when ``comment_id`` is
    None (not its comments), else that comment."""
    return and_(
        Report.post_id == post_id,
        Report.comment_id.is_(None) if comment_id is None else Report.comment_id == comment_id,
        Report.resolved_at.is_(None),
    )


def _resolve_reports(
    session: Session, post_id: uuid.UUID, comment_id: uuid.UUID | None, resolution: str
) -> int:
    result = session.execute(
        update(Report)
        .where(open_reports_on(post_id, comment_id))
        .values(resolved_at=utcnow(), resolution=resolution)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# ---------------------------------------------------------------- hide and restore


def hide_post(*, session: Session, actor: User, post_id: uuid.UUID, reason: str) -> Post:
    """A moderator hides a published post with a written reason: open reports on it are
    resolved, the author is told why, and the action is publicly audited."""
    post, text = _post_in(
        session,
        actor,
        post_id,
        reason,
        PostStatus.published,
        "A post that is {status} cannot be hidden.",
    )
    post.status, post.status_reason = PostStatus.hidden, text
    resolved = _resolve_reports(session, post.id, None, "hidden")
    _audit_and_tell(
        session,
        actor,
        audit.AuditAction.FEED_POST_HIDDEN,
        post,
        text,
        title="A moderator hid your post",
        body=f"Your post “{post.title}” was hidden. Reason: {text}",
        reports=resolved,
    )
    return post


def restore_post(*, session: Session, actor: User, post_id: uuid.UUID, reason: str) -> Post:
    """A moderator restores a hidden post (it returns to its place in the feed). Audited;
    the author is told."""
    post, text = _post_in(
        session, actor, post_id, reason, PostStatus.hidden, "Only a hidden post can be restored."
    )
    post.status, post.status_reason = PostStatus.published, None
    _audit_and_tell(
        session,
        actor,
        audit.AuditAction.FEED_POST_RESTORED,
        post,
        text,
        title="Your post is visible again",
        body=f"A moderator restored your post “{post.title}”. Reason: {text}",
    )
    return post


def hide_comment(*, session: Session, actor: User, comment_id: uuid.UUID, reason: str) -> Comment:
    """A moderator hides a comment with a written reason. Audited; the author is told."""
    require_moderator(actor)
    text = _reason(reason)
    comment = feed_comments.get_comment(session=session, actor=actor, comment_id=comment_id)
    if comment.is_hidden:
        raise Conflict("This comment is already hidden.", code="invalid_transition")
    comment.is_hidden, comment.hidden_reason = True, text
    resolved = _resolve_reports(session, comment.post_id, comment.id, "hidden")
    _audit_and_tell(
        session,
        actor,
        audit.AuditAction.FEED_COMMENT_HIDDEN,
        comment,
        text,
        title="A moderator hid your comment",
        body=f"Your comment was hidden. Reason: {text}",
        reports=resolved,
    )
    return comment


def restore_comment(
    *, session: Session, actor: User, comment_id: uuid.UUID, reason: str
) -> Comment:
    require_moderator(actor)
    text = _reason(reason)
    comment = feed_comments.get_comment(session=session, actor=actor, comment_id=comment_id)
    if not comment.is_hidden:
        raise Conflict("This comment is not hidden.", code="invalid_transition")
    comment.is_hidden, comment.hidden_reason = False, None
    _audit_and_tell(
        session,
        actor,
        audit.AuditAction.FEED_COMMENT_RESTORED,
        comment,
        text,
        title="Your comment is visible again",
        body=f"A moderator restored your comment. Reason: {text}",
    )
    return comment


def dismiss_reports(
    *,
    session: Session,
    actor: User,
    post_id: uuid.UUID,
    comment_id: uuid.UUID | None = None,
    reason: str,
) -> int:
    """A moderator closes the open reports on an item without acting on it. Audited."""
    require_moderator(actor)
    text = _reason(reason)
    feed_service.get_post(session=session, actor=actor, post_id=post_id)
    resolved = _resolve_reports(session, post_id, comment_id, "dismissed")
    if resolved == 0:
        raise Conflict("There are no open reports on this.", code="no_open_reports")
    trail, subject_id = (_POSTS, post_id) if comment_id is None else (_COMMENTS, comment_id)
    trail.record(
        session,
        actor,
        audit.AuditAction.FEED_REPORTS_DISMISSED,
        subject_id,
        reason=text,
        reports=resolved,
    )
    session.flush()
    return resolved


# ---------------------------------------------------------------- review of held posts


def pending_posts(*, session: Session, actor: User, limit: int = QUEUE_LIMIT) -> list[Post]:
    """Posts held for review, oldest first."""
    require_moderator(actor)
    return list(
        session.scalars(
            select(Post)
            .where(Post.status == PostStatus.pending)
            .order_by(Post.created_at, Post.id)
            .limit(limit)
        )
    )


def approve_post(
    *, session: Session, actor: User, post_id: uuid.UUID, reason: str | None = None
) -> Post:
    """A moderator publishes a held post (it enters the feed now and its alerts go out).
    Audited; the author is told."""
    post, text = _post_in(
        session,
        actor,
        post_id,
        reason,
        PostStatus.pending,
        "Only a post awaiting review can be approved.",
        reason_required=False,
    )
    feed_service.mark_published(session=session, post=post)
    _audit_and_tell(
        session,
        actor,
        audit.AuditAction.FEED_POST_APPROVED,
        post,
        text,
        title="Your post is published",
        body=f"A moderator approved your post “{post.title}”.",
    )
    return post


def reject_post(*, session: Session, actor: User, post_id: uuid.UUID, reason: str) -> Post:
    """A moderator refuses a held post with a written reason; only its author still sees it.
    Audited; the author is told why."""
    post, text = _post_in(
        session,
        actor,
        post_id,
        reason,
        PostStatus.pending,
        "Only a post awaiting review can be rejected.",
    )
    post.status, post.status_reason = PostStatus.rejected, text
    _audit_and_tell(
        session,
        actor,
        audit.AuditAction.FEED_POST_REJECTED,
        post,
        text,
        title="Your post was not published",
        body=f"A moderator did not publish your post “{post.title}”. Reason: {text}",
    )
    return post


# ---------------------------------------------------------------- settings


def change_settings(*, session: Session, actor: User, hold_new_posts: bool) -> FeedSettings:
    """An instance admin turns holding new posts for review on or off. Publicly audited."""
    if actor.role != Role.admin:
        raise Forbidden("Only an instance administrator can change this.", code="admin_only")
    row = session.get(FeedSettings, feed_service.SETTINGS_ROW_ID)
    if row is None:
        row = FeedSettings(id=feed_service.SETTINGS_ROW_ID, hold_new_posts=False)
        session.add(row)
    previous = row.hold_new_posts
    row.hold_new_posts = hold_new_posts
    row.updated_at = utcnow()
    row.updated_by = actor.id
    _SETTINGS.record(
        session,
        actor,
        audit.AuditAction.FEED_SETTINGS_CHANGED,
        "instance",
        hold_new_posts={"from": previous, "to": hold_new_posts},
    )
    session.flush()
    return row
