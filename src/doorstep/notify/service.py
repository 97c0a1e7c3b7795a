"""Alerts: one call records the in-app notification and queues every other channel."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.db import utcnow
from doorstep.errors import InvalidInput, NotFound
from doorstep.notify import outbox
from doorstep.notify.models import Notification, Webhook

EMAIL_JOB = "notify.email"
PUSH_JOB = "notify.push"
WEBHOOK_JOB = "notify.webhook"


def alert_user(
    *,
    session: Session,
    user_id: uuid.UUID,
    topic: str,
    title: str,
    body: str,
    link: str | None = None,
    event_kind: str | None = None,
) -> Notification | None:
    """Alert a user on the channels he chose, in the caller's transaction.

    The in-app notification is written now; email, push and webhook deliveries
    are outbox jobs, so they happen after the commit, at least once, or not at
    all if the cause rolls back. Returns None when his preferences mute it.
    """
    user = account_service.get_user(session=session, user_id=user_id)
    prefs = account_service.get_preferences(session=session, user=user)
    if event_kind is not None and event_kind not in prefs.event_kinds:
        return None
    note = Notification(
        user_id=user_id,
        topic=topic,
        title=title[:200],
        body=body,
        link=link,
        in_inbox=prefs.in_app,
    )
    session.add(note)
    session.flush()
    ref = {"notification_id": str(note.id)}
    if prefs.email:
        outbox.enqueue(session=session, kind=EMAIL_JOB, payload=ref)
    if prefs.push:
        for sub in account_service.push_subscriptions(session=session, user_id=user_id):
            outbox.enqueue(
                session=session, kind=PUSH_JOB, payload={**ref, "subscription_id": str(sub.id)}
            )
    for hook in webhooks(session=session, user_id=user_id):
        outbox.enqueue(
            session=session, kind=WEBHOOK_JOB, payload={**ref, "webhook_id": str(hook.id)}
        )
    return note


def alert_kinds(*, session: Session, user_id: uuid.UUID) -> list[str]:
    """The event kinds this user wants alerts for."""
    user = account_service.get_user(session=session, user_id=user_id)
    return list(account_service.get_preferences(session=session, user=user).event_kinds)


def inbox(
    *,
    session: Session,
    user_id: uuid.UUID,
    unread_only: bool = False,
    limit: int = 50,
    before: datetime | None = None,
) -> list[Notification]:
    stmt = select(Notification).where(Notification.user_id == user_id, Notification.in_inbox)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if before is not None:
        stmt = stmt.where(Notification.created_at < before)
    return list(session.scalars(stmt.order_by(Notification.created_at.desc()).limit(limit)))


def unread_count(*, session: Session, user_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(
                Notification.user_id == user_id,
                Notification.in_inbox,
                Notification.read_at.is_(None),
            )
        )
        or 0
    )


def mark_read(*, session: Session, user_id: uuid.UUID, notification_id: uuid.UUID | None) -> int:
    """Mark one (or, with None, every) notification of this user read."""
    stmt = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if notification_id is not None:
        if session.get(Notification, notification_id) is None:
            raise NotFound("No such notification.")
        stmt = stmt.where(Notification.id == notification_id)
    result = session.execute(stmt.values(read_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def get_notification(*, session: Session, notification_id: uuid.UUID) -> Notification | None:
    return session.get(Notification, notification_id)


def webhooks(*, session: Session, user_id: uuid.UUID) -> list[Webhook]:
    return list(session.scalars(select(Webhook).where(Webhook.user_id == user_id)))


def add_webhook(*, session: Session, user_id: uuid.UUID, url: str) -> Webhook:
    """Register an endpoint; the returned secret signs every delivery (HMAC-SHA256)."""
    if not url.startswith(("https://", "http://")):
        raise InvalidInput("A webhook URL starts with https:// or http://.", code="invalid_url")
    hook = Webhook(user_id=user_id, url=url, secret=secrets.token_hex(24))
    session.add(hook)
    session.flush()
    return hook


def remove_webhook(*, session: Session, user_id: uuid.UUID, webhook_id: uuid.UUID) -> None:
    hook = session.get(Webhook, webhook_id)
    if hook is None or hook.user_id != user_id:
        raise NotFound("No such webhook.")
    session.delete(hook)
    session.flush()
