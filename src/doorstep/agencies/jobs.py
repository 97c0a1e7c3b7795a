"""Outbox handler: the invitation email, whose secret token is made at send time.

Every outcome is written on the invitation, in the job's own transaction, so the agency
admin sees it: sent, retrying (with the last error) or failed (with why). That is also
why a failed send does not raise: raising would roll the record back with the job. The
handler schedules its own retry instead, with the worker's backoff, and stops at once
when no SMTP server is configured or the address was refused (retrying cannot help).
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog

from doorstep.agencies import service as agency_service
from doorstep.agencies.models import Agency, AgencyInvitation, InvitationEmailStatus
from doorstep.config import Settings
from doorstep.notify import outbox
from doorstep.notify.channels import DeliveryError, PermanentDeliveryError
from doorstep.notify.channels.email import EmailMessageSpec, email_configured, send_email
from doorstep.notify.handlers import JobContext

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 8
NO_SMTP = (
    "This instance has no SMTP server configured (DOORSTEP_SMTP_HOST), so the email was "
    "not sent. Copy the invitation link and send it to the invitee yourself."
)


def send_invitation(ctx: JobContext, payload: dict[str, Any]) -> None:
    """Email one invitation with a fresh token, and write the outcome on the invitation:
    sent, retrying (a later job, after the backoff) or failed."""
    settings = ctx.services.settings
    invitation_id = uuid.UUID(payload["invitation_id"])
    attempt = int(payload.get("attempt", 1))
    if not email_configured(settings):
        agency_service.record_invitation_email(
            session=ctx.session,
            invitation_id=invitation_id,
            status=InvitationEmailStatus.failed,
            error=NO_SMTP,
        )
        log.warning(
            "agencies.invitation_not_sent", invitation_id=str(invitation_id), error="no_smtp"
        )
        return
    issued = agency_service.issue_invitation_token(session=ctx.session, invitation_id=invitation_id)
    if issued is None:
        return
    try:
        send_email(settings, _invitation_email(settings, *issued))
    except PermanentDeliveryError as exc:
        _failed(ctx, invitation_id, f"The mail server refused this invitation: {exc}")
        return
    except DeliveryError as exc:
        if attempt >= MAX_ATTEMPTS:
            _failed(ctx, invitation_id, f"Gave up after {attempt} attempts: {exc}")
        else:
            _retry_later(ctx, invitation_id, attempt, exc)
        return
    agency_service.record_invitation_email(
        session=ctx.session, invitation_id=invitation_id, status=InvitationEmailStatus.sent
    )


def _invitation_email(
    settings: Settings, invitation: AgencyInvitation, agency: Agency, token: str
) -> EmailMessageSpec:
    link = agency_service.accept_url(base_url=settings.base_url, token=token)
    return EmailMessageSpec(
        to=invitation.email,
        subject=f"[{settings.instance_name}] Join {agency.name} as {invitation.role.value}",
        text=(
            f"You were invited to join {agency.name} ({agency.city}, {agency.state}) on "
            f"{settings.instance_name} as {invitation.role.value.replace('_', ' ')}.\n\n"
            f"Sign in or create an account with this email address, then open:\n{link}\n\n"
            "Agency members must turn on two-factor sign-in before acting for the agency. "
            f"The invitation expires on {invitation.expires_at:%Y-%m-%d}.\n"
        ),
    )


def _retry_later(
    ctx: JobContext, invitation_id: uuid.UUID, attempt: int, exc: DeliveryError
) -> None:
    """Record the failed attempt on the invitation and queue the next one after the
    worker's backoff (this job itself ends done, so the record is kept)."""
    settings = ctx.services.settings
    agency_service.record_invitation_email(
        session=ctx.session,
        invitation_id=invitation_id,
        status=InvitationEmailStatus.retrying,
        error=f"Attempt {attempt} of {MAX_ATTEMPTS} failed: {exc}",
    )
    outbox.enqueue(
        session=ctx.session,
        kind=agency_service.INVITATION_JOB,
        payload={"invitation_id": str(invitation_id), "attempt": attempt + 1},
        delay_s=outbox.backoff_s(
            attempt,
            base_s=settings.worker_backoff_base_s,
            max_s=settings.worker_backoff_max_s,
        ),
    )
    log.warning("agencies.invitation_retry", invitation_id=str(invitation_id), error=str(exc))


def _failed(ctx: JobContext, invitation_id: uuid.UUID, error: str) -> None:
    agency_service.record_invitation_email(
        session=ctx.session,
        invitation_id=invitation_id,
        status=InvitationEmailStatus.failed,
        error=error,
    )
    log.warning("agencies.invitation_failed", invitation_id=str(invitation_id), error=error)
