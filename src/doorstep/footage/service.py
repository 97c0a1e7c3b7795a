"""Footage requests from the agency's side: drafting under policy, approval, review,
activation (targeting and notices), closing, and the counts an agency may see.

An agency never learns which owners or cameras were asked: nothing here returns
recipient rows to an agency, only totals.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import h3
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from doorstep import audit, geo
from doorstep.accounts.models import Role, User
from doorstep.accounts.service import actor_of
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import Agency, MemberRole
from doorstep.db import bulk_insert, utcnow
from doorstep.errors import Conflict, Forbidden, InvalidInput, NotFound
from doorstep.feed import service as feed_service
from doorstep.footage import policy as policy_service
from doorstep.footage import rules
from doorstep.footage.models import (
    AgencyMute,
    FootageRequest,
    IncidentType,
    Recipient,
    RecipientStatus,
    RequestStatus,
)
from doorstep.footage.notice import render_notice
from doorstep.footage.policy import PolicySettings
from doorstep.footage.targeting import target_owners
from doorstep.notify import outbox

NOTICE_JOB = "footage.notice"
DRAFTERS = {MemberRole.officer, MemberRole.supervisor, MemberRole.agency_admin}
APPROVERS = {MemberRole.supervisor, MemberRole.agency_admin}
# Statuses that count against the per-case limit and the monthly cap.
_COUNTED = (
    RequestStatus.pending_approval,
    RequestStatus.pending_review,
    RequestStatus.active,
    RequestStatus.closed,
)


class PolicyViolation(InvalidInput):
    """A request breaks a rule of the policy in force; the code names the rule and the
    message its limit. 400 like any refused input (422 is kept for payload validation)."""

    code = "policy_violation"


@dataclass(frozen=True)
class Area:
    geometry: BaseGeometry
    geojson: dict[str, Any]
    circle: dict[str, Any] | None


def parse_request_area(*, area: dict[str, Any] | None, circle: dict[str, Any] | None) -> Area:
    """A drawn polygon (GeoJSON) or a circle {latitude, longitude, radius_m}."""
    if area is None and circle is None:
        raise InvalidInput(
            "Give the area the request covers: a GeoJSON polygon in 'area', or a circle "
            "{latitude, longitude, radius_m} in 'circle'.",
            code="area_required",
        )
    if area is not None and circle is not None:
        raise InvalidInput(
            "Give the area as a GeoJSON polygon or as a circle, not both.", code="invalid_geometry"
        )
    if circle is not None:
        try:
            lat, lng = float(circle["latitude"]), float(circle["longitude"])
            radius_m = float(circle["radius_m"])
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(
                "A circle needs latitude, longitude and radius_m.", code="invalid_geometry"
            ) from exc
        geometry = geo.circle(lat, lng, radius_m)
        return Area(
            geometry,
            dict(mapping(geometry)) | {"coordinates": _coords(geometry)},
            {"latitude": lat, "longitude": lng, "radius_m": radius_m},
        )
    assert area is not None
    geometry = geo.parse_area(area)
    _check_shape(geometry)
    return Area(geometry, area, None)


# A circle scores 1, a square 0.79, a 10:1 strip along a street 0.26. Slivers, rings and
# shapes that hug single houses score far lower.
MIN_COMPACTNESS = 0.2


def _check_shape(geometry: BaseGeometry) -> None:
    """One simple polygon of reasonable shape: a MultiPolygon, a hole or a sliver could
    single out one house inside an area of allowed size, and with the counts tell the
    agency who was asked and who declined."""
    if geometry.geom_type != "Polygon":
        raise InvalidInput(
            "The area is one polygon (or a circle), not several.", code="invalid_geometry"
        )
    if list(geometry.interiors):
        raise InvalidInput("The area cannot have holes.", code="invalid_geometry")
    local = geo.to_local_metres(geometry)
    compactness = 4 * math.pi * local.area / (local.length**2) if local.length else 0.0
    if compactness < MIN_COMPACTNESS:
        raise PolicyViolation(
            f"The area is too thin or irregular (compactness {compactness:.2f}; the minimum "
            f"is {MIN_COMPACTNESS}). Draw the area the incident covers.",
            code="area_not_compact",
            limit=MIN_COMPACTNESS,
        )


def _coords(geometry: BaseGeometry) -> list[list[list[float]]]:
    ring = [[float(x), float(y)] for x, y in geometry.exterior.coords]
    return [ring]


def public_cells(geometry: BaseGeometry, resolution: int) -> list[str]:
    """The coarse H3 cells covering an area: the only outline of it the public sees."""
    shape = h3.geo_to_h3shape(mapping(geometry))
    cells = set(h3.h3shape_to_cells_experimental(shape, resolution, contain="overlap"))
    return sorted(cells)


def _check_policy(
    *,
    session: Session,
    policy: PolicySettings,
    agency: Agency,
    area: Area,
    window_start: datetime,
    window_end: datetime,
    case_number: str | None,
    incident_type: IncidentType,
    message: str,
    exclude_request: uuid.UUID | None,
) -> float:
    """Every policy rule; returns the area in square miles."""
    now = utcnow()
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise InvalidInput("Times need a time zone.", code="naive_time")
    if window_end <= window_start:
        raise InvalidInput("The window ends before it starts.", code="invalid_window")
    if window_end > now:
        raise PolicyViolation(
            "The window ends in the future; footage cannot be asked for before it exists.",
            code="window_in_future",
        )
    minutes = (window_end - window_start).total_seconds() / 60
    if minutes < policy.min_window_minutes:
        raise PolicyViolation(
            f"The window is {minutes:.0f} minutes; the policy's minimum is "
            f"{policy.min_window_minutes} minutes.",
            code="window_too_short",
            limit=policy.min_window_minutes,
        )
    if minutes > policy.max_window_hours * 60:
        raise PolicyViolation(
            f"The window is {minutes / 60:.1f} hours; the policy's maximum is "
            f"{policy.max_window_hours:g} hours.",
            code="window_too_long",
            limit=policy.max_window_hours,
        )
    if window_start < now - timedelta(days=policy.max_lookback_days):
        raise PolicyViolation(
            f"The window starts more than {policy.max_lookback_days} days ago, "
            "the policy's maximum look-back.",
            code="lookback_too_far",
            limit=policy.max_lookback_days,
        )
    area_sq_mi = geo.area_m2(area.geometry) / geo.SQ_M_PER_SQ_MILE
    if area_sq_mi < policy.min_area_sq_mi:
        raise PolicyViolation(
            f"The area is {area_sq_mi:.3f} square miles; the policy's minimum "
            f"is {policy.min_area_sq_mi:g}.",
            code="area_too_small",
            limit=policy.min_area_sq_mi,
        )
    if area_sq_mi > policy.max_area_sq_mi:
        raise PolicyViolation(
            f"The area is {area_sq_mi:.3f} square miles; the policy's maximum "
            f"is {policy.max_area_sq_mi:g}.",
            code="area_too_large",
            limit=policy.max_area_sq_mi,
        )
    jurisdiction = geo.parse_area(agency.jurisdiction)
    if not jurisdiction.buffer(1e-9).covers(area.geometry):
        raise PolicyViolation(
            "The area reaches outside the agency's jurisdiction.", code="outside_jurisdiction"
        )
    if policy.case_number_required and not (case_number and case_number.strip()):
        raise PolicyViolation("The policy requires a case number.", code="case_number_required")
    purpose = rules.refused_purpose(
        incident_type=incident_type.value, message=message, refused=policy.refused_purposes
    )
    if purpose is not None:
        raise PolicyViolation(
            f"The policy refuses requests for {purpose.replace('_', ' ')}.",
            code="refused_purpose",
            purpose=purpose,
        )
    rules.check_message(message)
    if case_number and case_number.strip():
        same_case = (
            select(func.count())
            .select_from(FootageRequest)
            .where(
                FootageRequest.agency_id == agency.id,
                FootageRequest.case_number == case_number.strip(),
                FootageRequest.status.in_(_COUNTED),
            )
        )
        if exclude_request is not None:
            same_case = same_case.where(FootageRequest.id != exclude_request)
        if (session.scalar(same_case) or 0) >= policy.per_case_limit:
            raise PolicyViolation(
                f"Case {case_number} already has {policy.per_case_limit} "
                "requests, the policy's limit per case.",
                code="per_case_limit",
                limit=policy.per_case_limit,
            )
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    this_month = (
        session.scalar(
            select(func.count())
            .select_from(FootageRequest)
            .where(
                FootageRequest.agency_id == agency.id,
                FootageRequest.submitted_at >= month_start,
                FootageRequest.status.in_(_COUNTED),
            )
        )
        or 0
    )
    if this_month >= policy.monthly_cap:
        raise PolicyViolation(
            f"The agency has sent {this_month} requests this month, the "
            f"policy's monthly cap of {policy.monthly_cap}.",
            code="monthly_cap",
            limit=policy.monthly_cap,
        )
    return area_sq_mi


def _audit(
    session: Session,
    actor: User,
    action: audit.AuditAction,
    request: FootageRequest,
    **details: Any,
) -> None:
    audit.record(
        session=session,
        actor=actor_of(actor),
        action=action,
        subject_type="footage_request",
        subject_id=request.id,
        is_public=True,
        details={"agency_id": str(request.agency_id), **details},
    )


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
    agency, _m = agency_service.require_member(session=session, user=actor, roles=DRAFTERS)
    policy = policy_service.effective_policy(session=session, agency_id=agency.id)
    parsed = parse_request_area(area=area, circle=circle)
    area_sq_mi = _check_policy(
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
    _audit(
        session, actor, audit.AuditAction.REQUEST_DRAFTED, request, area_sq_mi=round(area_sq_mi, 4)
    )
    return request


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
    if request.status != RequestStatus.draft:
        raise Conflict(
            f"This request is {request.status.value}; only drafts are submitted.",
            code="not_a_draft",
        )
    agency = agency_service.get_agency(session=session, agency_id=request.agency_id)
    policy = policy_service.effective_policy(session=session, agency_id=agency.id)
    _check_policy(
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
    request.submitted_at = utcnow()
    _audit(session, actor, audit.AuditAction.REQUEST_SUBMITTED, request)
    if policy.supervisor_approval:
        request.status = RequestStatus.pending_approval
    else:
        _after_approval(session=session, actor=actor, request=request, policy=policy)
    session.flush()
    return request


def _after_approval(
    *, session: Session, actor: User, request: FootageRequest, policy: PolicySettings
) -> None:
    if policy.moderator_review:
        request.status = RequestStatus.pending_review
    else:
        _activate(session=session, actor=actor, request=request, policy=policy)


def approve_request(*, session: Session, actor: User, request_id: uuid.UUID) -> FootageRequest:
    """A supervisor (not the drafter) approves a request waiting for approval."""
    agency_service.require_member(session=session, user=actor, roles=APPROVERS)
    request = get_agency_request(session=session, actor=actor, request_id=request_id)
    if request.status != RequestStatus.pending_approval:
        raise Conflict("This request is not waiting for approval.", code="not_pending_approval")
    if request.created_by == actor.id:
        raise Forbidden(
            "A request is approved by someone other than its author.", code="self_approval"
        )
    request.approved_by, request.approved_at = actor.id, utcnow()
    _audit(session, actor, audit.AuditAction.REQUEST_APPROVED, request)
    policy = policy_service.effective_policy(session=session, agency_id=request.agency_id)
    _after_approval(session=session, actor=actor, request=request, policy=policy)
    session.flush()
    return request


def review_queue(*, session: Session, actor: User) -> list[FootageRequest]:
    _require_moderator(actor)
    return list(
        session.scalars(
            select(FootageRequest)
            .where(FootageRequest.status == RequestStatus.pending_review)
            .order_by(FootageRequest.submitted_at)
        )
    )


def _require_moderator(actor: User) -> None:
    if actor.role not in (Role.moderator, Role.admin):
        raise Forbidden("Only an instance moderator reviews requests.", code="moderator_only")


def review_request(
    *, session: Session, actor: User, request_id: uuid.UUID, approve: bool, note: str | None
) -> FootageRequest:
    """An instance moderator publishes a request, or rejects it with a written reason."""
    _require_moderator(actor)
    request = session.get(FootageRequest, request_id)
    if request is None:
        raise NotFound("No such request.", code="request_not_found")
    if request.status != RequestStatus.pending_review:
        raise Conflict("This request is not waiting for review.", code="not_pending_review")
    if not approve and not (note and note.strip()):
        raise InvalidInput(
            "Say why the request is rejected; the agency and the public see it.",
            code="reason_required",
        )
    request.reviewed_by, request.reviewed_at = actor.id, utcnow()
    request.review_note = note.strip() if note else None
    if approve:
        _audit(
            session,
            actor,
            audit.AuditAction.REQUEST_REVIEW_APPROVED,
            request,
            note=request.review_note,
        )
        policy = policy_service.effective_policy(session=session, agency_id=request.agency_id)
        _activate(session=session, actor=actor, request=request, policy=policy)
    else:
        request.status = RequestStatus.rejected
        _audit(
            session,
            actor,
            audit.AuditAction.REQUEST_REVIEW_REJECTED,
            request,
            note=request.review_note,
        )
    session.flush()
    return request


def excluded_owners(*, session: Session, agency_id: uuid.UUID) -> set[uuid.UUID]:
    """Owners who opted out of all requests or muted this agency: never notified."""
    from doorstep.footage.models import OwnerRequestSettings

    opted = session.scalars(
        select(OwnerRequestSettings.owner_id).where(OwnerRequestSettings.opted_out.is_(True))
    )
    muted = session.scalars(select(AgencyMute.owner_id).where(AgencyMute.agency_id == agency_id))
    return set(opted) | set(muted)


def _activate(
    *, session: Session, actor: User, request: FootageRequest, policy: PolicySettings
) -> None:
    """Target owners and write one recipient row and one notice job per owner, in this
    transaction: the notices exist if and only if the activation commits."""
    now = utcnow()
    area = parse_request_area(area=request.area, circle=None).geometry
    owners = target_owners(
        session=session,
        area=area,
        window_start=request.window_start,
        window_end=request.window_end,
        excluded_owner_ids=excluded_owners(session=session, agency_id=request.agency_id),
    )
    # Pseudonyms drawn at random per request, so the same sharer cannot be followed from
    # one request to the next by his "Neighbor N".
    numbers = random.sample(range(1, len(owners) + 1), len(owners))
    first_reminder = now + timedelta(days=policy.reminder_days[0]) if policy.reminder_days else None
    rows = [
        {
            "id": uuid.uuid4(),
            "request_id": request.id,
            "owner_id": owner.owner_id,
            "camera_ids": [str(c) for c in owner.camera_ids],
            "status": RecipientStatus.pending,
            "neighbor_number": n,
            "reveal_identity": False,
            "reminders_sent": 0,
            "next_reminder_at": first_reminder,
            "created_at": now,
        }
        for n, owner in zip(numbers, owners, strict=True)
    ]
    if rows:
        bulk_insert(session, Recipient, rows)
        outbox.enqueue_each(
            session=session,
            kind=NOTICE_JOB,
            key="recipient_id",
            ids=select(Recipient.id).where(Recipient.request_id == request.id),
        )
    request.status = RequestStatus.active
    request.activated_at = now
    _publish_to_feed(session=session, request=request, area=area)
    request.closes_at = now + timedelta(days=policy.request_open_days)
    request.asked_count = len(rows)
    _audit(session, actor, audit.AuditAction.REQUEST_ACTIVATED, request, owners_asked=len(rows))
    session.flush()


def _publish_to_feed(*, session: Session, request: FootageRequest, area: BaseGeometry) -> None:
    agency = agency_service.get_agency(session=session, agency_id=request.agency_id)
    author = session.get(User, request.created_by)
    assert author is not None
    notice = render_notice(request=request, agency=agency)
    centre = area.centroid
    feed_service.publish_footage_request(
        session=session,
        request_id=request.id,
        agency_id=agency.id,
        author=author,
        latitude=centre.y,
        longitude=centre.x,
        title=f"{agency.name} asks for footage: {request.incident_type.value.replace('_', ' ')}",
        body=notice.body.replace(
            "Open the request to see your own clips from that window and answer",
            "Camera owners in the area were asked directly and can answer on their request page",
        ),
    )


def close_request(
    *, session: Session, actor: User, request_id: uuid.UUID, reason: str = "resolved"
) -> FootageRequest:
    """The officer closes an active request (e.g. resolved); it cannot be edited, only closed."""
    request = get_agency_request(session=session, actor=actor, request_id=request_id)
    if request.status != RequestStatus.active:
        raise Conflict("Only an active request can be closed.", code="not_active")
    request.status, request.closed_at, request.close_reason = RequestStatus.closed, utcnow(), reason
    _audit(session, actor, audit.AuditAction.REQUEST_CLOSED, request, reason=reason)
    session.flush()
    return request


def withdraw_request(*, session: Session, actor: User, request_id: uuid.UUID) -> FootageRequest:
    request = get_agency_request(session=session, actor=actor, request_id=request_id)
    if request.status not in (
        RequestStatus.draft,
        RequestStatus.pending_approval,
        RequestStatus.pending_review,
    ):
        raise Conflict(
            "A published request cannot be withdrawn; close it instead.", code="already_published"
        )
    request.status, request.closed_at, request.close_reason = (
        RequestStatus.withdrawn,
        utcnow(),
        "withdrawn",
    )
    _audit(session, actor, audit.AuditAction.REQUEST_WITHDRAWN, request)
    session.flush()
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
    for request in expired:
        request.status, request.closed_at, request.close_reason = (
            RequestStatus.closed,
            now,
            "expired",
        )
        audit.record(
            session=session,
            actor=audit.Actor.system("scheduler"),
            action=audit.AuditAction.REQUEST_CLOSED,
            subject_type="footage_request",
            subject_id=request.id,
            is_public=True,
            details={"agency_id": str(request.agency_id), "reason": "expired"},
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
