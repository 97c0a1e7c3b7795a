"""Outbox handlers and periodic tasks of footage requests: notices, reminders, closing,
evidence retention."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep import timezones
from doorstep.accounts.models import User
from doorstep.agencies import service as agency_service
from doorstep.db import utcnow
from doorstep.footage import evidence as evidence_service
from doorstep.footage import policy as policy_service
from doorstep.footage import service as request_service
from doorstep.footage.models import (
    FootageRequest,
    OwnerRequestSettings,
    Recipient,
    RecipientStatus,
    RequestStatus,
)
from doorstep.footage.notice import Notice, render_notice
from doorstep.footage.summaries import ALERT_TOPIC, answer_link
from doorstep.notify import outbox
from doorstep.notify import service as notify_service
from doorstep.notify.handlers import BatchContext, JobContext
from doorstep.runtime import Runtime

REMINDER_JOB = "footage.reminder"


def _deliver(
    session: Session, recipient_ids: list[uuid.UUID], *, reminder: bool, instance_zone: str
) -> None:
    """The fixed notice (or its reminder) to each recipient, on his channels, in bulk; its
    times in the recipient's zone (his preference, else the instance's)."""
    rows = session.execute(
        select(Recipient, FootageRequest, User.time_zone)
        .join(FootageRequest, FootageRequest.id == Recipient.request_id)
        .join(User, User.id == Recipient.owner_id)
        .where(Recipient.id.in_(recipient_ids))
    ).all()
    notices: dict[tuple[uuid.UUID, str], Notice] = {}
    alerts: list[notify_service.Alert] = []
    for recipient, request, preference in rows:
        if request.status != RequestStatus.active:
            continue  # closed before delivery: nothing to ask any more
        if reminder and recipient.status != RecipientStatus.pending:
            continue
        zone = timezones.viewer_zone(preference, None, instance_zone)
        if (request.id, zone.key) not in notices:  # one text per request and zone
            agency = agency_service.get_agency(session=session, agency_id=request.agency_id)
            notices[request.id, zone.key] = render_notice(
                request=request, agency=agency, reminder=reminder, zone=zone
            )
        notice = notices[request.id, zone.key]
        alerts.append(
            notify_service.Alert(
                user_id=recipient.owner_id,
                topic=ALERT_TOPIC,
                title=notice.title,
                body=notice.body,
                link=answer_link(request.id),
            )
        )
    notify_service.alert_users(session=session, alerts=alerts)


@dataclass(frozen=True)
class Deliveries:
    """The job handlers of one kind of notice to owners: the first notice, or its
    reminder, each on the owner's channels (in-app, email, push, webhook)."""

    reminder: bool

    def one(self, ctx: JobContext, payload: dict[str, Any]) -> None:
        _deliver(
            ctx.session,
            [uuid.UUID(payload["recipient_id"])],
            reminder=self.reminder,
            instance_zone=ctx.services.settings.time_zone,
        )

    def many(self, ctx: BatchContext, jobs: list[outbox.ClaimedJob]) -> dict[int, Exception | None]:
        # All or nothing: an error fails the batch, and the worker runs its jobs one by one.
        recipient_ids = [uuid.UUID(job.payload["recipient_id"]) for job in jobs]
        zone = ctx.services.settings.time_zone
        _deliver(ctx.session, recipient_ids, reminder=self.reminder, instance_zone=zone)
        return {job.id: None for job in jobs}


NOTICES = Deliveries(reminder=False)
REMINDERS = Deliveries(reminder=True)


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
