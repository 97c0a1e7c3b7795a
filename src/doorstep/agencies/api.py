"""JSON routes for agencies: apply, verify (admin), invite and manage members.

Routes that act for an agency take ``AgencyMember``: their token must have been issued
with a second factor.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from doorstep.accounts.deps import CurrentUser
from doorstep.agencies import service as agency_service
from doorstep.agencies.deps import AgencyMember
from doorstep.agencies.models import AgencyInvitation, AgencyStatus
from doorstep.agencies.schemas import (
    AgencyCreate,
    AgencyRead,
    AgencyStatusChange,
    InvitationAccept,
    InvitationCreate,
    InvitationIssued,
    InvitationState,
    MemberRead,
)
from doorstep.http import DbSession, SettingsDep
from doorstep.notify.channels.email import email_configured
from doorstep.routing import GuardedRoute

router = APIRouter(prefix="/api/v1", tags=["agencies"], route_class=GuardedRoute)


@router.post("/agencies", response_model=AgencyRead, status_code=status.HTTP_201_CREATED)
def apply(body: AgencyCreate, user: CurrentUser, session: DbSession) -> AgencyRead:
    agency = agency_service.apply_for_agency(session=session, applicant=user, **body.model_dump())
    return AgencyRead.model_validate(agency)


@router.get("/agencies", response_model=list[AgencyRead])
def list_agencies(session: DbSession, status: AgencyStatus | None = None) -> list[AgencyRead]:
    """Public: every agency that applied, with its status and dates."""
    return [
        AgencyRead.model_validate(a)
        for a in agency_service.list_agencies(session=session, status=status)
    ]


@router.get("/agencies/{agency_id}", response_model=AgencyRead)
def get_agency(agency_id: uuid.UUID, session: DbSession) -> AgencyRead:
    return AgencyRead.model_validate(
        agency_service.get_agency(session=session, agency_id=agency_id)
    )


@router.post("/agencies/{agency_id}/status", response_model=AgencyRead)
def change_status(
    agency_id: uuid.UUID, body: AgencyStatusChange, user: CurrentUser, session: DbSession
) -> AgencyRead:
    agency = agency_service.change_status(
        session=session, actor=user, agency_id=agency_id, action=body.action, reason=body.reason
    )
    return AgencyRead.model_validate(agency)


def _issued(invitation: AgencyInvitation, token: str, base_url: str) -> InvitationIssued:
    return InvitationIssued(
        **InvitationState.model_validate(invitation).model_dump(),
        accept_url=agency_service.accept_url(base_url=base_url, token=token),
    )


@router.post(
    "/agencies/{agency_id}/invitations",
    response_model=InvitationIssued,
    status_code=status.HTTP_201_CREATED,
)
def invite(
    agency_id: uuid.UUID,
    body: InvitationCreate,
    user: AgencyMember,
    session: DbSession,
    settings: SettingsDep,
    response: Response,
) -> InvitationIssued:
    """Invite by email; the response carries the link once, to hand over without email."""
    invitation, token = agency_service.invite_member(
        session=session, actor=user, agency_id=agency_id, email=body.email, role=body.role
    )
    response.headers["Cache-Control"] = "no-store"
    return _issued(invitation, token, settings.base_url)


@router.get("/agencies/{agency_id}/invitations", response_model=list[InvitationState])
def list_invitations(
    agency_id: uuid.UUID, user: AgencyMember, session: DbSession
) -> list[InvitationState]:
    """Pending invitations, each with where its email stands (and why it failed)."""
    return [
        InvitationState.model_validate(i)
        for i in agency_service.list_invitations(session=session, actor=user, agency_id=agency_id)
    ]


@router.post(
    "/agencies/{agency_id}/invitations/{invitation_id}/link", response_model=InvitationIssued
)
def issue_link(
    agency_id: uuid.UUID,
    invitation_id: uuid.UUID,
    user: AgencyMember,
    session: DbSession,
    settings: SettingsDep,
    response: Response,
) -> InvitationIssued:
    """A fresh link for a pending invitation, shown once; the previous copied link stops."""
    invitation, token = agency_service.issue_invitation_link(
        session=session, actor=user, agency_id=agency_id, invitation_id=invitation_id
    )
    response.headers["Cache-Control"] = "no-store"
    return _issued(invitation, token, settings.base_url)


@router.post(
    "/agencies/{agency_id}/invitations/{invitation_id}/resend", response_model=InvitationState
)
def resend(
    agency_id: uuid.UUID,
    invitation_id: uuid.UUID,
    user: AgencyMember,
    session: DbSession,
    settings: SettingsDep,
) -> InvitationState:
    return InvitationState.model_validate(
        agency_service.resend_invitation(
            session=session,
            actor=user,
            agency_id=agency_id,
            invitation_id=invitation_id,
            email_available=email_configured(settings),
        )
    )


@router.post("/agency-invitations/accept", response_model=MemberRead)
def accept(body: InvitationAccept, user: CurrentUser, session: DbSession) -> MemberRead:
    membership = agency_service.accept_invitation(session=session, user=user, token=body.token)
    return MemberRead(user_id=user.id, display_name=user.display_name, role=membership.role)


@router.get("/agencies/{agency_id}/members", response_model=list[MemberRead])
def list_members(agency_id: uuid.UUID, user: AgencyMember, session: DbSession) -> list[MemberRead]:
    return [
        MemberRead(user_id=u.id, display_name=u.display_name, role=m.role)
        for m, u in agency_service.members(session=session, actor=user, agency_id=agency_id)
    ]


@router.delete("/agencies/{agency_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(
    agency_id: uuid.UUID, user_id: uuid.UUID, user: AgencyMember, session: DbSession
) -> Response:
    agency_service.remove_member(session=session, actor=user, agency_id=agency_id, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
