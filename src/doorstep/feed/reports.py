"""Reports: a signed-in resident reports a post or comment he can read, and moderators
read the open reports as a queue, those for profiling first. Reporters are never named
to moderators. Acting on a report (hide, restore, dismiss) is in ``feed.moderation``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from doorstep.accounts.models import User
from doorstep.errors import Conflict, InvalidInput
from doorstep.feed import comments as feed_comments
from doorstep.feed import service as feed_service
from doorstep.feed.models import Comment, Post, Report, ReportReason
from doorstep.feed.moderation import QUEUE_LIMIT, open_reports_on, require_moderator
from doorstep.feed.schemas import QueueItem


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
            open_reports_on(post_id, comment_id), Report.reporter_id == reporter.id
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
            select(Report.reason, Report.note).where(open_reports_on(post_id, comment_id))
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
