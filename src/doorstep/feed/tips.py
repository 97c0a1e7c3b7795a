"""Tips: a resident's private message to a verified agency, optionally anonymous.

An anonymous tip stores no reference to its sender: no account id, no address,
no audit record naming him. Nothing can later tie it to an account.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.accounts.models import User
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import AgencyStatus
from doorstep.errors import Conflict, InvalidInput
from doorstep.feed import service as feed_service
from doorstep.feed.models import Post, Tip
from doorstep.feed.schemas import TipRead
from doorstep.notify import service as notify_service


def send_tip(
    *,
    session: Session,
    sender: User,
    agency_id: uuid.UUID,
    body: str,
    post_id: uuid.UUID | None = None,
    anonymous: bool = False,
) -> Tip:
    """Send a verified agency a private message, about one of its official posts or not.

    Anonymous: the row keeps no account reference, and the agency sees no account.
    The author of the official post (an agency member) is alerted that a tip arrived,
    without its sender.
    """
    agency = agency_service.get_agency(session=session, agency_id=agency_id)
    if agency.status != AgencyStatus.verified:
        raise Conflict("This agency does not take tips now.", code="agency_not_active")
    text = body.strip()
    if len(text) < 3:
        raise InvalidInput("Write your tip first.", code="empty_tip")
    post: Post | None = None
    if post_id is not None:
        post = feed_service.get_post(session=session, actor=sender, post_id=post_id)
        if post.agency_id != agency.id:
            raise InvalidInput(
                "Tips about a post go to the agency that posted it.", code="not_agency_post"
            )
    tip = Tip(
        agency_id=agency.id,
        post_id=post.id if post else None,
        sender_id=None if anonymous else sender.id,
        body=text,
    )
    session.add(tip)
    session.flush()
    if post is not None:
        notify_service.alert_user(
            session=session,
            user_id=post.author_id,
            topic="feed_tip",
            title=f"New tip for {agency.name}",
            body=f"A resident sent a tip about “{post.title}”.",
            link=f"/feed/tips?agency={agency.id}",
        )
    return tip


def agency_tips(
    *, session: Session, actor: User, agency_id: uuid.UUID, limit: int = 200
) -> list[TipRead]:
    """The agency's tips, newest first, for its verified members with two-factor sign-in.
    A named tip shows the sender's name and email; an anonymous one shows nothing of him."""
    agency_service.require_member(session=session, user=actor, agency_id=agency_id)
    rows = session.execute(
        select(Tip, Post.title)
        .outerjoin(Post, Post.id == Tip.post_id)
        .where(Tip.agency_id == agency_id)
        .order_by(Tip.created_at.desc(), Tip.id.desc())
        .limit(limit)
    )
    views = []
    for tip, title in rows:
        sender = (
            account_service.get_user(session=session, user_id=tip.sender_id)
            if tip.sender_id is not None
            else None
        )
        views.append(
            TipRead(
                id=tip.id,
                post_id=tip.post_id,
                post_title=title,
                body=tip.body,
                anonymous=sender is None,
                sender_name=sender.display_name if sender else None,
                sender_email=sender.email if sender else None,
                created_at=tip.created_at,
            )
        )
    return views
