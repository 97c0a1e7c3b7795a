"""Outbox handler: the invitation email, whose secret token is made at send time."""

from __future__ import annotations

import uuid
from typing import Any

from doorstep.agencies import service as agency_service
from doorstep.notify import outbox
from doorstep.notify.channels.email import EmailMessageSpec, email_configured, send_email


@outbox.handler(agency_service.INVITATION_JOB)
def send_invitation(ctx: outbox.JobContext, payload: dict[str, Any]) -> None:
    settings = ctx.services.settings
    if not email_configured(settings):
        raise outbox.PermanentJobError("email is not configured on this instance")
    issued = agency_service.issue_invitation_token(
        session=ctx.session, invitation_id=uuid.UUID(payload["invitation_id"])
    )
    if issued is None:
        return
    invitation, agency, token = issued
    link = f"{settings.base_url.rstrip('/')}/agency/invitations/accept?token={token}"
    send_email(
        settings,
        EmailMessageSpec(
            to=invitation.email,
            subject=f"[{settings.instance_name}] Join {agency.name} as {invitation.role.value}",
            text=(
                f"You were invited to join {agency.name} ({agency.city}, {agency.state}) on "
                f"{settings.instance_name} as {invitation.role.value.replace('_', ' ')}.\n\n"
                f"Sign in or create an account with this email address, then open:\n{link}\n\n"
                "Agency members must turn on two-factor sign-in before acting for the agency. "
                f"The invitation expires on {invitation.expires_at:%Y-%m-%d}.\n"
            ),
        ),
    )
