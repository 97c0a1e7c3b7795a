from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from doorstep.accounts.schemas import Email
from doorstep.agencies.models import AgencyStatus, AgencyType, InvitationEmailStatus, MemberRole
from doorstep.inputs import Line, OptionalText, Schema


class AgencyCreate(Schema):
    name: Line = Field(min_length=3, max_length=200)
    agency_type: AgencyType
    city: Line = Field(min_length=1, max_length=120)
    state: Line = Field(min_length=2, max_length=2)
    jurisdiction: dict[str, Any] = Field(description="GeoJSON Polygon or MultiPolygon")
    contact_email: Email
    website: Line = Field(min_length=8, max_length=500)


class AgencyRead(Schema):
    """An agency as the public sees it: all of this is public record."""

    id: uuid.UUID
    name: str
    agency_type: AgencyType
    city: str
    state: str
    jurisdiction: dict[str, Any]
    contact_email: str
    website: str
    status: AgencyStatus
    applied_at: datetime
    verified_at: datetime | None
    suspended_at: datetime | None
    ended_at: datetime | None
    status_reason: str | None


class AgencyStatusChange(Schema):
    action: Line = Field(pattern="^(verify|reject|suspend|reinstate|end)$")
    reason: OptionalText = Field(default=None, max_length=2000)


class InvitationCreate(Schema):
    email: Email
    role: MemberRole


class InvitationRead(Schema):
    id: uuid.UUID
    email: str
    role: MemberRole
    expires_at: datetime


class InvitationState(InvitationRead):
    """A pending invitation as its agency's admins see it, with where its email stands."""

    created_at: datetime
    email_status: InvitationEmailStatus | None = Field(
        description="queued, sent, retrying or failed; null for invitations from before "
        "the status was tracked."
    )
    email_error: str | None
    email_attempted_at: datetime | None


class InvitationIssued(InvitationState):
    """An invitation with its link: shown once, for the admin to hand over himself."""

    accept_url: str = Field(
        description="Shown once. Only an account with the invited email address can use it."
    )


class InvitationAccept(Schema):
    token: Line = Field(min_length=10, max_length=200)


class MemberRead(Schema):
    user_id: uuid.UUID
    display_name: str
    role: MemberRole
