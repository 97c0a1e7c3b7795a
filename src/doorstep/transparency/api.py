"""JSON routes for the policy (public to read, admin to change) and the audit chain head."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from doorstep.accounts.deps import Admin
from doorstep.agencies import service as agency_service
from doorstep.http import DbSession
from doorstep.transparency import policy as policy_service
from doorstep.transparency.policy import PolicySettings

router = APIRouter(prefix="/api/v1", tags=["transparency"])


class PolicyChange(BaseModel):
    changes: dict[str, Any] = Field(description="Settings to set; null removes an override.")
    reason: str = Field(min_length=1, max_length=2000)


class PolicyVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    agency_id: uuid.UUID | None
    settings: dict[str, Any]
    changed: dict[str, Any]
    reason: str
    changed_at: datetime


@router.get("/policy", response_model=PolicySettings)
def instance_policy(session: DbSession) -> PolicySettings:
    """Public: the instance-wide policy in force."""
    return policy_service.effective_policy(session=session)


@router.patch("/policy", response_model=PolicySettings)
def change_instance_policy(body: PolicyChange, admin: Admin, session: DbSession) -> PolicySettings:
    return policy_service.change_policy(
        session=session, actor=admin, changes=body.changes, reason=body.reason
    )


@router.get("/policy/history", response_model=list[PolicyVersionRead])
def policy_history(session: DbSession) -> list[PolicyVersionRead]:
    """Public: every change of the instance policy and of every agency's overrides."""
    return [
        PolicyVersionRead.model_validate(v)
        for v in policy_service.history(session=session, all_levels=True)
    ]


@router.get("/agencies/{agency_id}/policy", response_model=PolicySettings)
def agency_policy(agency_id: uuid.UUID, session: DbSession) -> PolicySettings:
    """Public: the policy in force for one agency (instance policy plus its overrides)."""
    agency_service.get_agency(session=session, agency_id=agency_id)
    return policy_service.effective_policy(session=session, agency_id=agency_id)


@router.patch("/agencies/{agency_id}/policy", response_model=PolicySettings)
def change_agency_policy(
    agency_id: uuid.UUID, body: PolicyChange, admin: Admin, session: DbSession
) -> PolicySettings:
    agency_service.get_agency(session=session, agency_id=agency_id)
    return policy_service.change_policy(
        session=session, actor=admin, changes=body.changes, reason=body.reason, agency_id=agency_id
    )
