"""Footage requests from the agency's side: drafting under policy, approval, review,
closing, and the counts an agency may see. Which action leads where, and the
activation (targeting and notices), are in :mod:`doorstep.footage.lifecycle`; the
rules a request is checked against in :mod:`doorstep.footage.rules`.

An agency never learns which owners or cameras were asked: nothing here returns
recipient rows to an agency, only totals.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.accounts.models import User
from doorstep.accounts.service import actor_of
from doorstep.agencies import service as agency_service
from doorstep.db import utcnow
from doorstep.errors import InvalidInput, NotFound
from doorstep.footage import lifecycle, rules
from doorstep.footage import policy as policy_service
from doorstep.footage.area import parse_request_area, public_cells
from doorstep.footage.lifecycle import Action
from doorstep.footage.models import (
    FootageRequest,
    IncidentType,
    Recipient,
    RecipientStatus,
    RequestStatus,
)
from doorstep.footage.schemas import RequestCreate


def draft_request(
    *,
    session: Session,
    actor: User,
    area: dict[str, Any] | None,
    circle: dict[str, Any] | None,
    window_start: datetime,
    window_end: datetime,
    case_number: str | None,
    incident_type: IncidentType,
    message: str,
    investigator_contact: str,
) -> FootageRequest:
    """A draft that already meets the policy in force (checked again on submission)."""
    agency, _m = agency_service.require_member(
        session=session, user=actor, roles=lifecycle.DRAFTERS
    )
    policy = policy_service.effective_policy(session=session, agency_id=agency.id)
    parsed = parse_request_area(area=area, circle=circle)
    proposal = rules.Proposal(
        session=session,
        policy=policy,
        agency=agency,
        area=parsed,
        window_start=window_start,
        window_end=window_end,
        case_number=case_number,
        incident_type=incident_type,
        message=message,
        exclude_request=None,
    )
    rules.check_request(proposal)
    area_sq_mi = proposal.area_sq_mi
    if not investigator_contact.strip():
        raise InvalidInput("Give the investigator's contact.", code="contact_required")
    request = FootageRequest(
        agency_id=agency.id,
        created_by=actor.id,
        case_number=case_number.strip() if case_number else None,
        incident_type=incident_type,
        message=message.strip(),
        investigator_contact=investigator_contact.strip(),
        area=parsed.geojson,
        circle=parsed.circle,
        area_sq_mi=area_sq_mi,
        public_cells=public_cells(parsed.geometry, policy.public_h3_resolution),
        window_start=window_start,
        window_end=window_end,
    )
    session.add(request)
    session.flush()
    lifecycle.record_draft(
        session=session, actor=actor_of(actor), request=request, area_sq_mi=round(area_sq_mi, 4)
    )
    return request


def draft_from(*, session: Session, actor: User, body: RequestCreate) -> FootageRequest:
    """:func:`draft_request` with what the agency filled in, from the API or the page."""
    return draft_request(
        session=session,
        actor=actor,
        area=body.area,
        circle=body.circle.model_dump() if body.circle else None,
        window_start=body.window_start,
        window_end=body.window_end,
        case_number=body.case_number,
        incident_type=body.incident_type,
        message=body.message,
        investigator_contact=body.investigator_contact,
    )


def readable_requests(*, session: Session, actor: User) -> Select[FootageRequest]:
    """Requests of the actor's own agency (members of other agencies see none)."""
    agency, _m = agency_service.require_member(session=session, user=actor)
    return select(FootageRequest).where(FootageRequest.agency_id == agency.id)


def get_agency_request(*, session: Session, actor: User, request_id: uuid.UUID) -> FootageRequest:
    request = session.scalar(
        readable_requests(session=session, actor=actor).where(FootageRequest.id == request_id)
    )
    if request is None:
        raise NotFound("No such request.", code="request_not_found")
    return request


def list_agency_requests(*, session: Session, actor: User) -> list[FootageRequest]:
    return list(
        session.scalars(
            readable_requests(session=session, actor=actor).order_by(
                FootageRequest.created_at.desc()
            )
        )
    )


def submit_request(*, session: Session, actor: User, request_id: uuid.UUID) -> FootageRequest:
    """Send a draft on: to a supervisor, to moderator review, or straight to owners,
    as the policy says. The policy is checked again now."""
    request = get_agency_request(session=session, actor=actor, request_id=request_id)
    lifecycle.check(request=request, action=Action.submit, actor_id=actor.id)
    agency = agency_service.get_agency(session=session, agency_id=request.agency_id)
    policy = policy_service.effective_policy(session=session, agency_id=agency.id)
    rules.check_request(
        rules.Proposal(
            session=session,
            policy=policy,
            agency=agency,
            area=parse_request_area(area=request.area, circle=None),
            window_start=request.window_start,
            window_end=request.window_end,
            case_number=request.case_number,
            incident_type=request.incident_type,
            message=request.message,
            exclude_request=request.id,
        )
    )
    request.submitted_at = utcnow()
    lifecycle.advance(
        session=session, actor=actor_of(actor), request=request, action=Action.submit, policy=policy
    )
    return request


def approve_request(*, session: Session, actor: User, request_id: uuid.UUID) -> FootageRequest:
    """A supervisor (not the drafter) approves a request waiting for approval."""
    lifecycle.authorize(session=session, actor=actor, action=Action.approve)
    request = get_agency_request(session=session, actor=actor, request_id=request_id)
    lifecycle.check(request=request, action=Action.approve, actor_id=actor.id)
    request.approved_by, request.approved_at = actor.id, utcnow()
    lifecycle.advance(
        session=session, actor=actor_of(actor), request=request, action=Action.approve
    )
    return request


def review_queue(*, session: Session, actor: User) -> list[FootageRequest]:
    lifecycle.authorize(session=session, actor=actor, action=Action.publish)
    return list(
        session.scalars(
            select(FootageRequest)
            .where(FootageRequest.status == RequestStatus.pending_review)
            .order_by(FootageRequest.submitted_at)
        )
    )


def review_request(
    *, session: Session, actor: User, request_id: uuid.UUID, approve: bool, note: str | None
) -> FootageRequest:
    """An instance moderator publishes a request, or rejects it with a written reason."""
    action = Action.publish if approve else Action.reject
    lifecycle.authorize(session=session, actor=actor, action=action)
    request = session.get(FootageRequest, request_id)
    if request is None:
        raise NotFound("No such request.", code="request_not_found")
    lifecycle.check(request=request, action=action, actor_id=actor.id)
    if not approve and not (note and note.strip()):
        raise InvalidInput(
            "Say why the request is rejected; the agency and the public see it.",
            code="reason_required",
        )
    request.reviewed_by, request.reviewed_at = actor.id, utcnow()
    request.review_note = note.strip() if note else None
    lifecycle.advance(
        session=session,
        actor=actor_of(actor),
        request=request,
        action=action,
        note=request.review_note,
    )
    return request


def close_request(
    *, session: Session, actor: User, request_id: uuid.UUID, reason: str = "resolved"
) -> FootageRequest:
    """The officer closes an active request (e.g. resolved); it cannot be edited, only closed."""
    request = get_agency_request(session=session, actor=actor, request_id=request_id)
    lifecycle.check(request=request, action=Action.close, actor_id=actor.id)
    request.closed_at, request.close_reason = utcnow(), reason
    lifecycle.advance(
        session=session, actor=actor_of(actor), request=request, action=Action.close, reason=reason
    )
    return request


def withdraw_request(*, session: Session, actor: User, request_id: uuid.UUID) -> FootageRequest:
    request = get_agency_request(session=session, actor=actor, request_id=request_id)
    lifecycle.check(request=request, action=Action.withdraw, actor_id=actor.id)
    request.closed_at, request.close_reason = utcnow(), "withdrawn"
    lifecycle.advance(
        session=session, actor=actor_of(actor), request=request, action=Action.withdraw
    )
    return request


def close_expired_requests(*, session: Session) -> int:
    """Close active requests whose time is up (worker, periodic)."""
    now = utcnow()
    expired = list(
        session.scalars(
            select(FootageRequest).where(
                FootageRequest.status == RequestStatus.active, FootageRequest.closes_at <= now
            )
        )
    )
    scheduler = audit.Actor.system("scheduler")
    for request in expired:
        request.closed_at, request.close_reason = now, "expired"
        lifecycle.advance(
            session=session,
            actor=scheduler,
            request=request,
            action=Action.expire,
            reason="expired",
        )
    session.flush()
    return len(expired)


@dataclass(frozen=True)
class RequestCounts:
    asked: int
    shared: int
    declined: int
    no_answer: int


def request_counts(*, session: Session, request_id: uuid.UUID) -> RequestCounts:
    """Totals only: the one view of recipients an agency (or the public) ever gets."""
    rows = {
        status: n
        for status, n in session.execute(
            select(Recipient.status, func.count())
            .where(Recipient.request_id == request_id)
            .group_by(Recipient.status)
        ).all()
    }
    shared = rows.get(RecipientStatus.shared, 0)
    declined = rows.get(RecipientStatus.declined, 0)
    pending = rows.get(RecipientStatus.pending, 0)
    return RequestCounts(
        asked=shared + declined + pending, shared=shared, declined=declined, no_answer=pending
    )
