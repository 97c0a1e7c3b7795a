"""Reports and moderation: the queue (profiling first), hide and restore, review of held
posts, and the instance's "hold new posts" option.

Every moderation action is a public audit record written in the same transaction,
and the author of the post or comment is told, with the moderator's reason.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.accounts.models import Role, User
from doorstep.accounts.service import actor_of
from doorstep.db import utcnow
from doorstep.errors import Conflict, Forbidden, InvalidInput
from doorstep.feed import comments as feed_comments
from doorstep.feed import service as feed_service
from doorstep.feed.models import Comment, FeedSettings, Post, PostStatus, Report, ReportReason
from doorstep.feed.schemas import QueueItem
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


def _tell_author(session: Session, user_id: uuid.UUID, title: str, body: str, link: str) -> None:
    notify_service.alert_user(
        session=session, user_id=user_id, topic="feed_moderation", title=title, body=body, link=link
    )


def _record(
    session: Session,
    actor: User,
    action: audit.AuditAction,
    subject_type: str,
    subject_id: uuid.UUID | str,
    **details: object,
) -> None:
    audit.record(
        session=session,
        actor=actor_of(actor),
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        is_public=True,
        details=details,
    )


# ---------------------------------------------------------------- reports


def report(
    *,
    session: Session,
    reporter: User,
    post_id: uuid.UUID,
    comment_id: uuid.UUID | None = None,
    reason: ReportReason,
    note: str | None = None,
) -> Report:
    """Anyone signed in reports a post or comment he can read, once per item while open.
    His own posts and comments he edits or deletes instead."""
    if comment_id is not None:
        comment = feed_comments.get_comment(session=session, actor=reporter, comment_id=comment_id)
        if comment.post_id != post_id:
            raise InvalidInput("This comment belongs to another post.", code="wrong_post")
        own = comment.author_id == reporter.id
    else:
        post = feed_service.get_post(session=session, actor=reporter, post_id=post_id)
        own = post.author_id == reporter.id
    if own:
        raise InvalidInput("Edit or delete your own words instead.", code="own_content")
    open_already = session.scalar(
        select(Report.id).where(
            Report.post_id == post_id,
            Report.comment_id.is_(None) if comment_id is None else Report.comment_id == comment_id,
            Report.reporter_id == reporter.id,
            Report.resolved_at.is_(None),
        )
    )
    if open_already is not None:
        raise Conflict(
            "You already reported this; a moderator will look at it.", code="already_reported"
        )
    row = Report(
        post_id=post_id,
        comment_id=comment_id,
        reporter_id=reporter.id,
        reason=reason,
        note=(note or "").strip() or None,
    )
    session.add(row)
    session.flush()
    return row


@dataclass
class QueueEntry:
    post: Post
    comment: Comment | None
    report_count: int
    reasons: dict[str, int]
    notes: list[str]
    has_profiling_report: bool
    first_reported_at: datetime


def moderation_queue(
    *, session: Session, actor: User, limit: int = QUEUE_LIMIT
) -> list[QueueEntry]:
    """Reported posts and comments with open reports: those reported for profiling first,
    then the longest waiting. Reporters are not named."""
    require_moderator(actor)
    profiling = func.max(case((Report.reason == ReportReason.profiling, 1), else_=0))
    first_at = func.min(Report.created_at)
    subjects = session.execute(
        select(Report.post_id, Report.comment_id, profiling, first_at, func.count())
        .where(Report.resolved_at.is_(None))
        .group_by(Report.post_id, Report.comment_id)
        .order_by(profiling.desc(), first_at, Report.post_id)
        .limit(limit)
    ).all()
    entries = []
    for post_id, comment_id, has_profiling, first, count in subjects:
        post = session.get(Post, post_id)
        comment = session.get(Comment, comment_id) if comment_id is not None else None
        if post is None:
            continue
        reasons: dict[str, int] = defaultdict(int)
        notes = []
        for reason, note in session.execute(
            select(Report.reason, Report.note).where(
                Report.post_id == post_id,
                Report.comment_id.is_(None)
                if comment_id is None
                else Report.comment_id == comment_id,
                Report.resolved_at.is_(None),
            )
        ):
            reasons[reason.value] += 1
            if note:
                notes.append(note)
        entries.append(
            QueueEntry(
                post=post,
                comment=comment,
                report_count=int(count),
                reasons=dict(reasons),
                notes=notes,
                has_profiling_report=bool(has_profiling),
                first_reported_at=first,
            )
        )
    return entries


def queue_item(entry: QueueEntry) -> QueueItem:
    """A queue entry as moderators see it: the item, the reasons and notes, no reporters."""
    post, comment = entry.post, entry.comment
    text = comment.body if comment is not None else post.body
    return QueueItem(
        subject_type="comment" if comment is not None else "post",
        post_id=post.id,
        comment_id=comment.id if comment is not None else None,
        title=post.title,
        excerpt=text[:300],
        category=post.category,
        status=("hidden" if comment.is_hidden else "visible")
        if comment is not None
        else post.status.value,
        report_count=entry.report_count,
        reasons=entry.reasons,
        notes=entry.notes,
        has_profiling_report=entry.has_profiling_report,
        first_reported_at=entry.first_reported_at,
    )


def _resolve_reports(
    session: Session, post_id: uuid.UUID, comment_id: uuid.UUID | None, resolution: str
) -> int:
    result = session.execute(
        update(Report)
        .where(
            Report.post_id == post_id,
            Report.comment_id.is_(None) if comment_id is None else Report.comment_id == comment_id,
            Report.resolved_at.is_(None),
        )
        .values(resolved_at=utcnow(), resolution=resolution)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# ---------------------------------------------------------------- hide and restore


def hide_post(*, session: Session, actor: User, post_id: uuid.UUID, reason: str) -> Post:
    """A moderator hides a published post with a written reason: open reports on it are
    resolved, the author is told why, and the action is publicly audited."""
    require_moderator(actor)
    text = _reason(reason)
    post = feed_service.get_post(session=session, actor=actor, post_id=post_id)
    if post.status != PostStatus.published:
        raise Conflict(
            f"A post that is {post.status.value} cannot be hidden.", code="invalid_transition"
        )
    post.status, post.status_reason = PostStatus.hidden, text
    resolved = _resolve_reports(session, post.id, None, "hidden")
    _record(
        session,
        actor,
        audit.AuditAction.FEED_POST_HIDDEN,
        "feed_post",
        post.id,
        reason=text,
        reports=resolved,
        category=post.category.value,
    )
    _tell_author(
        session,
        post.author_id,
        "A moderator hid your post",
        f"Your post “{post.title}” was hidden. Reason: {text}",
        f"/posts/{post.id}",
    )
    session.flush()
    return post


def restore_post(*, session: Session, actor: User, post_id: uuid.UUID, reason: str) -> Post:
    """A moderator restores a hidden post (it returns to its place in the feed). Audited;
    the author is told."""
    require_moderator(actor)
    text = _reason(reason)
    post = feed_service.get_post(session=session, actor=actor, post_id=post_id)
    if post.status != PostStatus.hidden:
        raise Conflict("Only a hidden post can be restored.", code="invalid_transition")
    post.status, post.status_reason = PostStatus.published, None
    _record(
        session,
        actor,
        audit.AuditAction.FEED_POST_RESTORED,
        "feed_post",
        post.id,
        reason=text,
        category=post.category.value,
    )
    _tell_author(
        session,
        post.author_id,
        "Your post is visible again",
        f"A moderator restored your post “{post.title}”. Reason: {text}",
        f"/posts/{post.id}",
    )
    session.flush()
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
    _record(
        session,
        actor,
        audit.AuditAction.FEED_COMMENT_HIDDEN,
        "feed_comment",
        comment.id,
        reason=text,
        reports=resolved,
        post_id=str(comment.post_id),
    )
    _tell_author(
        session,
        comment.author_id,
        "A moderator hid your comment",
        f"Your comment was hidden. Reason: {text}",
        f"/posts/{comment.post_id}",
    )
    session.flush()
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
    _record(
        session,
        actor,
        audit.AuditAction.FEED_COMMENT_RESTORED,
        "feed_comment",
        comment.id,
        reason=text,
        post_id=str(comment.post_id),
    )
    _tell_author(
        session,
        comment.author_id,
        "Your comment is visible again",
        f"A moderator restored your comment. Reason: {text}",
        f"/posts/{comment.post_id}",
    )
    session.flush()
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
    subject_type, subject_id = (
        ("feed_post", post_id) if comment_id is None else ("feed_comment", comment_id)
    )
    _record(
        session,
        actor,
        audit.AuditAction.FEED_REPORTS_DISMISSED,
        subject_type,
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
    require_moderator(actor)
    text = _reason(reason, required=False)
    post = feed_service.get_post(session=session, actor=actor, post_id=post_id)
    if post.status != PostStatus.pending:
        raise Conflict("Only a post awaiting review can be approved.", code="invalid_transition")
    feed_service.mark_published(session=session, post=post)
    _record(
        session,
        actor,
        audit.AuditAction.FEED_POST_APPROVED,
        "feed_post",
        post.id,
        reason=text,
        category=post.category.value,
    )
    _tell_author(
        session,
        post.author_id,
        "Your post is published",
        f"A moderator approved your post “{post.title}”.",
        f"/posts/{post.id}",
    )
    session.flush()
    return post


def reject_post(*, session: Session, actor: User, post_id: uuid.UUID, reason: str) -> Post:
    """A moderator refuses a held post with a written reason; only its author still sees it.
    Audited; the author is told why."""
    require_moderator(actor)
    text = _reason(reason)
    post = feed_service.get_post(session=session, actor=actor, post_id=post_id)
    if post.status != PostStatus.pending:
        raise Conflict("Only a post awaiting review can be rejected.", code="invalid_transition")
    post.status, post.status_reason = PostStatus.rejected, text
    _record(
        session,
        actor,
        audit.AuditAction.FEED_POST_REJECTED,
        "feed_post",
        post.id,
        reason=text,
        category=post.category.value,
    )
    _tell_author(
        session,
        post.author_id,
        "Your post was not published",
        f"A moderator did not publish your post “{post.title}”. Reason: {text}",
        f"/posts/{post.id}",
    )
    session.flush()
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
    _record(
        session,
        actor,
        audit.AuditAction.FEED_SETTINGS_CHANGED,
        "feed_settings",
        "instance",
        hold_new_posts={"from": previous, "to": hold_new_posts},
    )
    session.flush()
    return row
