"""Outbox handlers that deliver an alert on one channel each."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.accounts.models import PushSubscription, User
from doorstep.notify import outbox
from doorstep.notify import service as notify_service
from doorstep.notify.channels.email import (
    EmailMessageSpec,
    SmtpConnection,
    email_configured,
    send_email,
)
from doorstep.notify.channels.webhook import send_webhook
from doorstep.notify.channels.webpush import SubscriptionGoneError, ensure_vapid_keys, send_push
from doorstep.notify.models import Notification, Webhook
from doorstep.notify.targets import TargetPolicy


def _notification(session: Session, payload: dict[str, Any]) -> Notification:
    note = notify_service.get_notification(
        session=session, notification_id=uuid.UUID(payload["notification_id"])
    )
    if note is None:  # the user (and his notifications) were deleted meanwhile
        raise outbox.PermanentJobError("notification no longer exists")
    return note


def _absolute(base_url: str, link: str | None) -> str:
    return f"{base_url.rstrip('/')}{link}" if link else base_url


def _email(settings: Any, note: Notification, address: str) -> EmailMessageSpec:
    url = _absolute(settings.base_url, note.link)
    return EmailMessageSpec(
        to=address,
        subject=f"[{settings.instance_name}] {note.title}",
        text=f"{note.body}\n\nOpen: {url}\n\nChange which alerts you get: "
        f"{_absolute(settings.base_url, '/account/notifications')}\n",
    )


@outbox.handler(notify_service.EMAIL_JOB)
def deliver_email(ctx: outbox.JobContext, payload: dict[str, Any]) -> None:
    settings = ctx.services.settings
    if not email_configured(settings):
        raise outbox.PermanentJobError("email is not configured on this instance")
    note = _notification(ctx.session, payload)
    user = account_service.get_user(session=ctx.session, user_id=note.user_id)
    send_email(settings, _email(settings, note, user.email))


@outbox.batch_handler(notify_service.EMAIL_JOB)
def deliver_emails(
    ctx: outbox.BatchContext, jobs: list[outbox.ClaimedJob]
) -> dict[int, Exception | None]:
    """Many alert emails over one SMTP session, read with one query."""
    settings = ctx.services.settings
    if not email_configured(settings):
        error = outbox.PermanentJobError("email is not configured on this instance")
        return {job.id: error for job in jobs}
    notes = _notes(ctx.session, jobs)
    addresses = {
        user_id: email
        for user_id, email in ctx.session.execute(
            select(User.id, User.email).where(User.id.in_({n.user_id for n in notes.values()}))
        )
    }
    outcomes: dict[int, Exception | None] = {}
    with SmtpConnection(settings) as connection:
        for job in jobs:
            if ctx.out_of_time():
                break
            note = notes.get(job.id)
            if note is None:
                outcomes[job.id] = outbox.PermanentJobError("notification no longer exists")
                continue
            try:
                connection.send(_email(settings, note, addresses[note.user_id]))
                outcomes[job.id] = None
            except Exception as exc:  # recorded against this job; the others go on
                outcomes[job.id] = exc
    return outcomes


def _notes(session: Session, jobs: list[outbox.ClaimedJob]) -> dict[int, Notification]:
    """Each job's notification (jobs whose notification is gone are left out)."""
    wanted = {job.id: uuid.UUID(job.payload["notification_id"]) for job in jobs}
    found = {
        note.id: note
        for note in session.scalars(
            select(Notification).where(Notification.id.in_(set(wanted.values())))
        )
    }
    return {job_id: found[n] for job_id, n in wanted.items() if n in found}


@outbox.handler(notify_service.PUSH_JOB)
def deliver_push(ctx: outbox.JobContext, payload: dict[str, Any]) -> None:
    settings = ctx.services.settings
    note = _notification(ctx.session, payload)
    sub = ctx.session.get(PushSubscription, uuid.UUID(payload["subscription_id"]))
    if sub is None:
        return  # unsubscribed since: nothing to deliver
    try:
        send_push(
            settings,
            ensure_vapid_keys(settings),
            endpoint=sub.endpoint,
            p256dh=sub.p256dh,
            auth=sub.auth,
            payload={"title": note.title, "body": note.body[:1000], "url": note.link or "/"},
        )
    except SubscriptionGoneError:
        # The browser dropped this subscription: forget it, the job is finished.
        account_service.remove_push_subscription(session=ctx.session, endpoint=sub.endpoint)


def _send_hook(
    settings: Any, policy: TargetPolicy, job_id: int, note: Notification, hook: Webhook
) -> None:
    send_webhook(
        url=hook.url,
        secret=hook.secret,
        policy=policy,
        delivery_id=str(job_id),
        event=note.topic,
        payload={
            "notification_id": str(note.id),
            "title": note.title,
            "body": note.body,
            "link": _absolute(settings.base_url, note.link),
            "created_at": note.created_at.isoformat(),
        },
    )


@outbox.handler(notify_service.WEBHOOK_JOB)
def deliver_webhook(ctx: outbox.JobContext, payload: dict[str, Any]) -> None:
    note = _notification(ctx.session, payload)
    hook = ctx.session.get(Webhook, uuid.UUID(payload["webhook_id"]))
    if hook is None:
        return
    settings = ctx.services.settings
    _send_hook(settings, TargetPolicy.from_settings(settings), ctx.job_id, note, hook)


@outbox.batch_handler(notify_service.WEBHOOK_JOB)
def deliver_webhooks(
    ctx: outbox.BatchContext, jobs: list[outbox.ClaimedJob]
) -> dict[int, Exception | None]:
    """Many webhook deliveries, read with one query, over the shared keep-alive client."""
    notes = _notes(ctx.session, jobs)
    hook_ids = {uuid.UUID(job.payload["webhook_id"]) for job in jobs}
    hooks = {h.id: h for h in ctx.session.scalars(select(Webhook).where(Webhook.id.in_(hook_ids)))}
    settings = ctx.services.settings
    policy = TargetPolicy.from_settings(settings)
    outcomes: dict[int, Exception | None] = {}
    for job in jobs:
        if ctx.out_of_time():
            break
        note = notes.get(job.id)
        hook = hooks.get(uuid.UUID(job.payload["webhook_id"]))
        if note is None:
            outcomes[job.id] = outbox.PermanentJobError("notification no longer exists")
            continue
        if hook is None:
            outcomes[job.id] = None  # removed since: nothing to deliver, as one by one
            continue
        try:
            _send_hook(settings, policy, job.id, note, hook)
            outcomes[job.id] = None
        except Exception as exc:  # recorded against this job; the others go on
            outcomes[job.id] = exc
    return outcomes
