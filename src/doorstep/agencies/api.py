"""JSON routes for agencies: apply, verify (admin), invite and manage members."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from doorstep.accounts.deps import CurrentUser
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import AgencyStatus
from doorstep.agencies.schemas import (
    AgencyCreate,
    AgencyRead,
    AgencyStatusChange,
    InvitationAccept,
    InvitationCreate,
    InvitationRead,
    MemberRead,
)
from doorstep.http import DbSession
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


@router.post(
    "/agencies/{agency_id}/invitations",
    response_model=InvitationRead,
    status_code=status.HTTP_201_CREATED,
)
def invite(
    agency_id: uuid.UUID, body: InvitationCreate, user: CurrentUser, session: DbSession
) -> InvitationRead:
    invitation = agency_service.invite_member(
        session=session, actor=user, agency_id=agency_id, email=body.email, role=body.role
    )
    return InvitationRead.model_validate(invitation)


@router.post("/agency-invitations/accept", response_model=MemberRead)
def accept(body: InvitationAccept, user: CurrentUser, session: DbSession) -> MemberRead:
    membership = agency_service.accept_invitation(session=session, user=user, token=body.token)
    return MemberRead(user_id=user.id, display_name=user.display_name, role=membership.role)


@router.get("/agencies/{agency_id}/members", response_model=list[MemberRead])
def list_members(agency_id: uuid.UUID, user: CurrentUser, session: DbSession) -> list[MemberRead]:
    return [
        MemberRead(user_id=u.id, display_name=u.display_name, role=m.role)
        for m, u in agency_service.members(session=session, actor=user, agency_id=agency_id)
    ]


@router.delete("/agencies/{agency_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_member(
    agency_id: uuid.UUID, user_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> Response:
    agency_service.remove_member(session=session, actor=user, agency_id=agency_id, user_id=user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
