"""Area alerts: a newly published post alerts the residents it is near, at most once per
``ALERT_INTERVAL`` each; what comes in between reaches them as one digest.

A burst of posts thus sends each person one alert now and one digest later, not
a burst of emails. The fan-out runs as an outbox job after the post commits.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from doorstep import geo
from doorstep.db import utcnow
from doorstep.feed import areas
from doorstep.feed.models import Category, DigestItem, Home, Post, PostStatus
from doorstep.notify import outbox
from doorstep.notify import service as notify_service

log = structlog.get_logger(__name__)

DIGEST_JOB = "feed.alert_digest"
ALERT_INTERVAL = timedelta(minutes=30)
CATEGORY_LABELS = {
    Category.crime: "Crime",
    Category.safety: "Safety",
    Category.unexpected_activity: "Unexpected activity",
    Category.lost_found_pet: "Lost or found pet",
    Category.community: "Community",
}


def homes_near(*, session: Session, post: Post, lock: bool = False) -> list[Home]:
    """The homes whose radius reaches this post's cell centre (the feed's own rule, seen
    from the other side), the author's excluded. Indexed on ``feed_homes.coarse_cell``:
    a home lies at most ``CELL_REACH_M`` from its cell's centre."""
    lat, lng = geo.cell_center(post.coarse_cell)
    cells = areas.cells_within(lat, lng, areas.MAX_RADIUS_M + areas.CELL_REACH_M)
    stmt = select(Home).where(Home.coarse_cell.in_(cells), Home.user_id != post.author_id)
    if lock:
        stmt = stmt.with_for_update()
    return [
        home
        for home in session.scalars(stmt.order_by(Home.user_id))
        if geo.haversine_m(home.exact_latitude, home.exact_longitude, lat, lng) <= home.radius_m
    ]


def _alert_one(session: Session, home: Home, post: Post) -> None:
    label = CATEGORY_LABELS[post.category]
    notify_service.alert_user(
        session=session,
        user_id=home.user_id,
        topic="feed_post",
        title=f"{label} near you: {post.title}",
        body=f"{label}: {post.title}\n\n{post.body[:500]}",
        link=f"/posts/{post.id}",
    )


def alert_or_collect(*, session: Session, home: Home, post: Post, now: datetime) -> bool:
    """Alert this resident now if he had no feed alert within ``ALERT_INTERVAL`` and no
    digest is waiting; otherwise add the post to his digest (queued once). True if alerted."""
    quiet = home.last_alert_at is None or now - home.last_alert_at >= ALERT_INTERVAL
    if quiet and home.digest_due_at is None:
        _alert_one(session, home, post)
        home.last_alert_at = now
        session.flush()
        return True
    exists = session.scalar(
        select(DigestItem.id).where(
            DigestItem.user_id == home.user_id, DigestItem.post_id == post.id
        )
    )
    if exists is None:
        session.add(DigestItem(user_id=home.user_id, post_id=post.id, created_at=now))
    # A digest long overdue was lost (its job gave up): queue a new one, or he would
    # never be alerted again.
    lost = home.digest_due_at is not None and home.digest_due_at < now - ALERT_INTERVAL
    if home.digest_due_at is None or lost:
        due = max((home.last_alert_at or now) + ALERT_INTERVAL, now)
        outbox.enqueue(
            session=session,
            kind=DIGEST_JOB,
            payload={"user_id": str(home.user_id)},
            delay_s=max(0.0, (due - now).total_seconds()),
        )
        home.digest_due_at = due
    session.flush()
    return False


def fan_out(*, session: Session, post_id: uuid.UUID) -> int:
    """Alert (or collect for a digest) every resident near a published post who chose its
    category. Returns how many were alerted at once. Nothing for a post since hidden or
    deleted."""
    post = session.get(Post, post_id)
    if post is None or post.status != PostStatus.published:
        return 0
    now = utcnow()
    alerted = collected = 0
    for home in homes_near(session=session, post=post, lock=True):
        if post.category.value not in home.alert_categories:
            continue
        if alert_or_collect(session=session, home=home, post=post, now=now):
            alerted += 1
        else:
            collected += 1
    log.info("feed.fan_out", post_id=str(post.id), alerted=alerted, collected=collected)
    return alerted


def send_digest(*, session: Session, user_id: uuid.UUID) -> int:
    """Send a resident one alert listing the posts collected since his last one (those
    still published). Returns how many posts it listed."""
    home = session.scalar(select(Home).where(Home.user_id == user_id).with_for_update())
    if home is None:
        return 0
    posts = list(
        session.scalars(
            select(Post)
            .join(DigestItem, DigestItem.post_id == Post.id)
            .where(DigestItem.user_id == user_id, Post.status == PostStatus.published)
            .order_by(Post.published_at.desc(), Post.id.desc())
        )
    )
    session.execute(delete(DigestItem).where(DigestItem.user_id == user_id))
    home.digest_due_at = None
    if posts:
        lines = [f"- {CATEGORY_LABELS[p.category]}: {p.title}" for p in posts]
        count = len(posts)
        notify_service.alert_user(
            session=session,
            user_id=user_id,
            topic="feed_digest",
            title=f"{count} new post{'s' if count != 1 else ''} near you",
            body="Posted in your area since your last alert:\n" + "\n".join(lines),
            link="/feed",
        )
        home.last_alert_at = utcnow()
    session.flush()
    return len(posts)
