"""Outbox handlers that deliver an alert on one channel each."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.accounts.models import PushSubscription
from doorstep.notify import outbox
from doorstep.notify import service as notify_service
from doorstep.notify.channels.email import EmailMessageSpec, email_configured, send_email
from doorstep.notify.channels.webhook import send_webhook
from doorstep.notify.channels.webpush import SubscriptionGoneError, ensure_vapid_keys, send_push
from doorstep.notify.models import Notification, Webhook


def _notification(session: Session, payload: dict[str, Any]) -> Notification:
    note = notify_service.get_notification(
        session=session, notification_id=uuid.UUID(payload["notification_id"])
    )
    if note is None:  # the user (and his notifications) were deleted meanwhile
        raise outbox.PermanentJobError("notification no longer exists")
    return note


def _absolute(base_url: str, link: str | None) -> str:
    return f"{base_url.rstrip('/')}{link}" if link else base_url


@outbox.handler(notify_service.EMAIL_JOB)
def deliver_email(ctx: outbox.JobContext, payload: dict[str, Any]) -> None:
    settings = ctx.services.settings
    if not email_configured(settings):
        raise outbox.PermanentJobError("email is not configured on this instance")
    note = _notification(ctx.session, payload)
    user = account_service.get_user(session=ctx.session, user_id=note.user_id)
    url = _absolute(settings.base_url, note.link)
    send_email(
        settings,
        EmailMessageSpec(
            to=user.email,
            subject=f"[{settings.instance_name}] {note.title}",
            text=f"{note.body}\n\nOpen: {url}\n\nChange which alerts you get: "
            f"{_absolute(settings.base_url, '/account/notifications')}\n",
        ),
    )


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


@outbox.handler(notify_service.WEBHOOK_JOB)
def deliver_webhook(ctx: outbox.JobContext, payload: dict[str, Any]) -> None:
    note = _notification(ctx.session, payload)
    hook = ctx.session.get(Webhook, uuid.UUID(payload["webhook_id"]))
    if hook is None:
        return
    send_webhook(
        url=hook.url,
        secret=hook.secret,
        delivery_id=str(ctx.job_id),
        event=note.topic,
        payload={
            "notification_id": str(note.id),
            "title": note.title,
            "body": note.body,
            "link": _absolute(ctx.services.settings.base_url, note.link),
            "created_at": note.created_at.isoformat(),
        },
    )
