"""Outbox handlers and periodic tasks of footage requests: notices, reminders, closing,
evidence retention."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from doorstep.agencies.models import Agency
from doorstep.db import utcnow
from doorstep.footage import evidence as evidence_service
from doorstep.footage import service as request_service
from doorstep.footage.models import (
    FootageRequest,
    OwnerRequestSettings,
    Recipient,
    RecipientStatus,
    RequestStatus,
)
from doorstep.footage.notice import render_notice
from doorstep.notify import outbox
from doorstep.notify import service as notify_service
from doorstep.runtime import Runtime
from doorstep.transparency import policy as policy_service

REMINDER_JOB = "footage.reminder"


def _deliver(ctx: outbox.JobContext, recipient_id: str, *, reminder: bool) -> None:
    row = ctx.session.execute(
        select(Recipient, FootageRequest, Agency)
        .join(FootageRequest, FootageRequest.id == Recipient.request_id)
        .join(Agency, Agency.id == FootageRequest.agency_id)
        .where(Recipient.id == uuid.UUID(recipient_id))
    ).first()
    if row is None:
        return
    recipient, request, agency = row
    if request.status != RequestStatus.active:
        return  # closed before delivery: nothing to ask any more
    if reminder and recipient.status != RecipientStatus.pending:
        return
    notice = render_notice(request=request, agency=agency, reminder=reminder)
    notify_service.alert_user(
        session=ctx.session,
        user_id=recipient.owner_id,
        topic="footage_request",
        title=notice.title,
        body=notice.body,
        link=f"/requests/{request.id}/answer",
    )


@outbox.handler(request_service.NOTICE_JOB)
def deliver_notice(ctx: outbox.JobContext, payload: dict[str, Any]) -> None:
    """The fixed notice, on the owner's channels (in-app, email, push, webhook)."""
    _deliver(ctx, payload["recipient_id"], reminder=False)


@outbox.handler(REMINDER_JOB)
def deliver_reminder(ctx: outbox.JobContext, payload: dict[str, Any]) -> None:
    _deliver(ctx, payload["recipient_id"], reminder=True)


def queue_reminders(runtime: Runtime) -> int:
    """Remind owners who have not answered, on the policy's days, unless they turned
    reminders off. Declining and ignoring are never reported per owner."""
    now = utcnow()
    with runtime.db.transaction() as session:
        rows = session.execute(
            select(Recipient, FootageRequest)
            .join(FootageRequest, FootageRequest.id == Recipient.request_id)
            .outerjoin(OwnerRequestSettings, OwnerRequestSettings.owner_id == Recipient.owner_id)
            .where(
                Recipient.status == RecipientStatus.pending,
                Recipient.next_reminder_at <= now,
                FootageRequest.status == RequestStatus.active,
                (OwnerRequestSettings.reminders.is_(None))
                | (OwnerRequestSettings.reminders.is_(True)),
            )
            .limit(1000)
        ).all()
        for recipient, request in rows:
            policy = policy_service.effective_policy(session=session, agency_id=request.agency_id)
            recipient.reminders_sent += 1
            days = policy.reminder_days
            if recipient.reminders_sent < len(days) and request.activated_at is not None:
                recipient.next_reminder_at = request.activated_at + timedelta(
                    days=days[recipient.reminders_sent]
                )
            else:
                recipient.next_reminder_at = None
            outbox.enqueue(
                session=session, kind=REMINDER_JOB, payload={"recipient_id": str(recipient.id)}
            )
        return len(rows)


def close_expired(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return request_service.close_expired_requests(session=session)


def sweep_evidence(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return evidence_service.sweep_evidence_retention(session=session, storage=runtime.storage)
