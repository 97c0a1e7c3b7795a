"""Alerts: one call records the in-app notification and queues every other channel.

``alert_users`` reads the users it alerts from the accounts table in one query (a read
model, for speed: one footage request alerts thousands of owners at once); their
preferences come from ``accounts.service``.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.accounts.models import User
from doorstep.config import Settings
from doorstep.db import new_id, utcnow
from doorstep.errors import NotFound
from doorstep.notify import outbox, targets
from doorstep.notify.channels.registry import CHANNELS
from doorstep.notify.models import Notification, Webhook


@dataclass(frozen=True)
class Alert:
    """One alert for one user (see ``alert_users``)."""

    user_id: uuid.UUID
    topic: str
    title: str
    body: str
    link: str | None = None
    event_kind: str | None = None


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
    alert = Alert(user_id, topic, title, body, link, event_kind)
    return alert_users(session=session, alerts=[alert])[0]


def alert_users(*, session: Session, alerts: Sequence[Alert]) -> list[Notification | None]:
    """``alert_user`` for many alerts at once, with a fixed number of statements.

    The users, their preferences (defaults written for those who have none) and each
    channel's addresses (``Channel.addresses``) are read in a fixed number of queries;
    the notifications and each channel's jobs are inserted in bulk. The answer lines up
    with ``alerts``.
    """
    if not alerts:
        return []
    user_ids = {a.user_id for a in alerts}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
    missing = user_ids - users.keys()
    if missing:
        raise NotFound("No such user.")
    prefs = account_service.preferences_of(session=session, users=list(users.values()))
    reach = [
        (channel.kind, channel.addresses(session=session, preferences=prefs))
        for channel in CHANNELS
    ]
    notes: list[Notification | None] = []
    jobs: dict[str, list[dict[str, Any]]] = {kind: [] for kind, _ in reach}
    for alert in alerts:
        pref = prefs[alert.user_id]
        if alert.event_kind is not None and alert.event_kind not in pref.event_kinds:
            notes.append(None)
            continue
        note = Notification(
            id=new_id(),
            user_id=alert.user_id,
            topic=alert.topic,
            title=alert.title[:200],
            body=alert.body,
            link=alert.link,
            in_inbox=pref.in_app,
        )
        notes.append(note)
        ref = {"notification_id": str(note.id)}
        for kind, addresses in reach:
            jobs[kind].extend({**ref, **part} for part in addresses.get(alert.user_id, ()))
    session.add_all([note for note in notes if note is not None])
    session.flush()
    for kind, payloads in jobs.items():
        outbox.enqueue_many(session=session, kind=kind, payloads=payloads)
    return notes


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
    """Mark one (or, with None, every) notification of this user read.

    Another user's notification is "not found", exactly like one that does not
    exist, so the answer never tells whether an id belongs to someone.
    """
    stmt = update(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None)
    )
    if notification_id is not None:
        note = session.get(Notification, notification_id)
        if note is None or note.user_id != user_id:
            raise NotFound("No such notification.")
        stmt = stmt.where(Notification.id == notification_id)
    result = session.execute(stmt.values(read_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def mark_subject_read(*, session: Session, user_id: uuid.UUID, path: str, query: str = "") -> int:
    """Mark read every unread alert of this user that links to the page at ``path`` (with
    ``query``, or without one): opening an alert's subject answers the alert. Returns
    how many were marked."""
    links = [path, f"{path}?{query}"] if query else [path]
    result = session.execute(
        update(Notification)
        .where(
            Notification.user_id == user_id,
            Notification.read_at.is_(None),
            Notification.link.in_(links),
        )
        .values(read_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


# For one topic, the summary line of each of its alerts' links (e.g. a footage request's
# "agency · incident type · window"), given by the domain that sends them.
Summarizer = Callable[..., Mapping[str, str]]


def summarize(
    *,
    session: Session,
    notes: Sequence[Notification],
    summarizers: Mapping[str, Summarizer],
    zone: tzinfo,
) -> dict[uuid.UUID, str]:
    """The short line that stands for each alert's text in a list, by notification id,
    for the alerts whose topic has a summarizer (times in the reader's ``zone``); the
    others keep their own text."""
    summaries: dict[uuid.UUID, str] = {}
    for topic, summarizer in summarizers.items():
        links = {n.id: n.link for n in notes if n.topic == topic and n.link}
        if not links:
            continue
        lines = summarizer(session=session, links=list(links.values()), zone=zone)
        summaries.update({i: lines[link] for i, link in links.items() if link in lines})
    return summaries


def get_notification(*, session: Session, notification_id: uuid.UUID) -> Notification | None:
    return session.get(Notification, notification_id)


def webhooks(*, session: Session, user_id: uuid.UUID) -> list[Webhook]:
    return list(session.scalars(select(Webhook).where(Webhook.user_id == user_id)))


def add_webhook(*, session: Session, settings: Settings, user_id: uuid.UUID, url: str) -> Webhook:
    """Register an endpoint; the returned secret signs every delivery (HMAC-SHA256).

    Only a target the instance's policy allows is stored: https (unless plain http is
    turned on) to a host that resolves, to public addresses or the operator's allowlist
    only; anything else raises ``TargetRefused`` (400 ``webhook_target_refused``) with
    the reason. Delivery checks again, since DNS may answer differently later.
    """
    url = url.strip()
    targets.check_target(url, targets.TargetPolicy.from_settings(settings))
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
