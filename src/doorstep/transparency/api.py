"""JSON routes: the policy (public to read, admin to change), the public portal's data
(agencies, the request log, per-agency figures), agency statements and the audit heads."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.orm import Session

from doorstep import paging, replicas
from doorstep.accounts.deps import Admin
from doorstep.agencies import service as agency_service
from doorstep.errors import NotFound
from doorstep.footage import policy as policy_service
from doorstep.footage.policy import PolicySettings
from doorstep.http import DbSession, ReadSession, get_runtime
from doorstep.inputs import Flag, Line, Number, Text, WholeNumber
from doorstep.routing import GuardedRoute
from doorstep.transparency import digests, figures, public, request_log, statements
from doorstep.transparency.schemas import (
    AgencyFigures,
    ChainHeadRead,
    DailyHeadRead,
    MonthCount,
    PublicAgency,
    RequestLogPage,
    StatementRead,
    StatementUpdate,
)
from doorstep.versions import REQUEST_LOG
from doorstep.web import kept

router = APIRouter(prefix="/api/v1", tags=["transparency"], route_class=GuardedRoute)


# The JSON kind each policy setting takes, by its type in PolicySettings: the policy model
# itself stays lax, as it also reads the settings stored before this rule.
_SETTING_KINDS: dict[Any, TypeAdapter[Any]] = {
    bool: TypeAdapter(Flag),
    int: TypeAdapter(WholeNumber),
    float: TypeAdapter(Number),
    list[int]: TypeAdapter(list[WholeNumber]),
    list[str]: TypeAdapter(list[Line]),
}


class PolicyChange(BaseModel):
    changes: dict[str, Any] = Field(description="Settings to set; null removes an override.")
    reason: Text = Field(min_length=1, max_length=2000)

    @field_validator("changes")
    @classmethod
    def _json_kinds(cls, changes: dict[str, Any]) -> dict[str, Any]:
        """``0`` is not a boolean here either; unknown settings are the service's to refuse."""
        for key, value in changes.items():
            field = PolicySettings.model_fields.get(key)
            kind = _SETTING_KINDS.get(field.annotation) if field is not None else None
            if value is None or kind is None:
                continue
            try:
                kind.validate_python(value)
            except ValidationError as exc:
                raise PydanticCustomError(
                    "policy_setting_type",
                    "{setting}: {problem}",
                    {"setting": key, "problem": exc.errors()[0]["msg"]},
                ) from exc
        return changes


class PolicyVersionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    agency_id: uuid.UUID | None
    settings: dict[str, Any]
    changed: dict[str, Any]
    reason: str
    changed_at: datetime


@router.get("/policy", response_model=PolicySettings)
def instance_policy(session: ReadSession) -> PolicySettings:
    """Public: the instance-wide policy in force."""
    return policy_service.effective_policy(session=session)


@router.patch("/policy", response_model=PolicySettings)
def change_instance_policy(body: PolicyChange, admin: Admin, session: DbSession) -> PolicySettings:
    return policy_service.change_policy(
        session=session, actor=admin, changes=body.changes, reason=body.reason
    )


@router.get("/policy/history", response_model=list[PolicyVersionRead])
def policy_history(session: ReadSession) -> list[PolicyVersionRead]:
    """Public: every change of the instance policy and of every agency's overrides."""
    return [
        PolicyVersionRead.model_validate(v)
        for v in policy_service.history(session=session, all_levels=True)
    ]


@router.get("/agencies/{agency_id}/policy", response_model=PolicySettings)
def agency_policy(agency_id: uuid.UUID, session: ReadSession) -> PolicySettings:
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


# ---------------------------------------------------------------- public portal data


@router.get("/transparency/agencies", response_model=list[PublicAgency])
def public_agencies(
    session: ReadSession, state: str | None = None, status: str | None = None
) -> list[PublicAgency]:
    """Public: every agency that ever took part; filter by state and status
    (active, suspended, ended)."""
    agencies = public.participating_agencies(
        session=session, state=state, status=public.parse_status(status)
    )
    return [public.public_agency(a) for a in agencies]


@router.get("/transparency/agencies/active-per-month", response_model=list[MonthCount])
def agencies_active_per_month(session: ReadSession) -> list[MonthCount]:
    """Public: how many agencies took part in each month."""
    agencies = public.participating_agencies(session=session)
    return public.active_per_month(session=session, agencies=agencies)


def _participating(session: DbSession, agency_id: uuid.UUID) -> Any:
    agency = public.get_participating_agency(session=session, agency_id=agency_id)
    if agency is None:
        raise NotFound("No agency with this id ever took part.", code="agency_not_found")
    return agency


@router.get("/transparency/agencies/{agency_id}", response_model=AgencyFigures)
def public_agency_figures(agency_id: uuid.UUID, session: ReadSession) -> AgencyFigures:
    """Public: one agency's figures (requests, answers, evidence use, policy, cameras in
    its jurisdiction as a count, accountability figures)."""
    return figures.agency_figures(session=session, agency=_participating(session, agency_id))


@router.get("/transparency/requests", response_model=RequestLogPage)
async def public_request_log(
    request: Request,
    sort: str = "activated",
    order: str = Query("desc", pattern="^(asc|desc)$"),
    agency_id: uuid.UUID | None = None,
    offset: int = Query(0, ge=0, le=paging.MAX_OFFSET),
    limit: int = Query(100, ge=1, le=500),
) -> Response:
    """Public: every request that ever became active, with totals and coarse cells."""
    # Kept per data version (``web.kept``): with no read replica a kept answer costs one
    # autocommit statement in one threadpool hop; anything else one read transaction.
    runtime = get_runtime(request)
    cache = request_log.kept_log(request.app)
    key = ("json", sort, order, agency_id, offset, limit)
    body = None
    if not runtime.replicas.configured:
        body = await run_in_threadpool(kept.kept_now, runtime.db, cache, key, REQUEST_LOG)
    if body is None:
        body = await run_in_threadpool(
            kept.read_kept,
            runtime,
            replicas.parse_lsn(request.cookies.get(replicas.FENCE_COOKIE)),
            cache,
            key,
            REQUEST_LOG,
            lambda session: _request_log_body(session, sort, order, agency_id, offset, limit),
        )
    return Response(body, media_type="application/json")


def _request_log_body(
    session: Session, sort: str, order: str, agency_id: uuid.UUID | None, offset: int, limit: int
) -> bytes:
    total, rows = request_log.log_page(
        session=session,
        filters=request_log.RequestFilter(agency_id=agency_id),
        sort=sort,
        descending=order == "desc",
        offset=offset,
        limit=limit,
    )
    page = RequestLogPage(
        total=total, offset=offset, limit=limit, sort=sort, order=order, requests=rows
    )
    # Serialized once, by the model it is: FastAPI would validate the page's hundreds of
    # fields again against response_model (which still documents it) before writing it.
    return page.model_dump_json().encode()


@router.get("/transparency/audit/head", response_model=ChainHeadRead)
def audit_head(session: ReadSession) -> ChainHeadRead:
    """Public: the newest record of the audit chain."""
    head = digests.current_head(session=session)
    if head is None:
        return ChainHeadRead(seq=0, hash=digests.GENESIS_HASH, at=None)
    return ChainHeadRead(seq=head.seq, hash=head.hash, at=head.at)


@router.get("/transparency/audit/heads", response_model=list[DailyHeadRead])
def audit_daily_heads(session: ReadSession) -> list[DailyHeadRead]:
    """Public: the head of the chain at the end of each day, newest first."""
    return [DailyHeadRead.model_validate(h) for h in digests.daily_heads(session=session)]


@router.get("/agencies/{agency_id}/statement", response_model=StatementRead)
def agency_statement(agency_id: uuid.UUID, session: ReadSession) -> StatementRead:
    """Public: the agency's acceptable-use statement and prohibited uses."""
    agency_service.get_agency(session=session, agency_id=agency_id)
    return statements.statement_view(session=session, agency_id=agency_id)


@router.put("/agencies/{agency_id}/statement", response_model=StatementRead)
def change_agency_statement(
    agency_id: uuid.UUID, body: StatementUpdate, admin: Admin, session: DbSession
) -> StatementRead:
    return statements.set_statement(
        session=session,
        actor=admin,
        agency_id=agency_id,
        acceptable_use=body.acceptable_use,
        prohibited_uses=body.prohibited_uses,
        reason=body.reason,
    )
