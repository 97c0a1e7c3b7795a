"""The life of a footage request, in one place: which action takes a request from which
status to which, who may take it, what it audits and what it queues.

    draft ──submit──▶ pending_approval ──approve──▶ pending_review ──publish──▶ active
                                                                  ──reject───▶ rejected
    active ──close / expire──▶ closed
    draft, pending_approval, pending_review ──withdraw──▶ withdrawn

A waiting status the agency's policy turns off (no supervisor approval, no moderator
review) is passed straight through, so a submitted draft may land in any of the three
later statuses. Entering ``active`` is the activation, reached only through
:func:`advance`: owners are targeted and one notice job per owner is queued in the same
transaction. A request's status is assigned here and nowhere else.
"""

from __future__ import annotations

import enum
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.accounts import service as account_service
from doorstep.accounts.models import Role, User
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import MemberRole
from doorstep.db import bulk_insert, utcnow
from doorstep.errors import Conflict, Forbidden
from doorstep.feed import service as feed_service
from doorstep.footage import policy as policy_service
from doorstep.footage.area import parse_request_area
from doorstep.footage.models import (
    AgencyMute,
    FootageRequest,
    OwnerRequestSettings,
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


class Action(enum.StrEnum):
    submit = "submit"
    approve = "approve"
    publish = "publish"  # an instance moderator's review lets the request out
    reject = "reject"
    close = "close"
    expire = "expire"
    withdraw = "withdraw"


class Who(enum.StrEnum):
    """Who may take an action. Members are admitted by reading the request through
    ``service.readable_requests`` (their own agency's only); :func:`authorize` checks
    the narrower roles."""

    member = "a member of the request's agency"
    approver = "a supervisor or agency admin of the request's agency, not its author"
    moderator = "an instance moderator or admin"
    scheduler = "the scheduler (no person)"


@dataclass(frozen=True)
class Transition:
    sources: tuple[RequestStatus, ...]
    target: RequestStatus
    who: Who
    audited: audit.AuditAction
    # Said when the request is in another status: a message ({status} is filled in), a code.
    refusal: tuple[str, str]


_WAITING = (RequestStatus.draft, RequestStatus.pending_approval, RequestStatus.pending_review)

TRANSITIONS: dict[Action, Transition] = {
    Action.submit: Transition(
        (RequestStatus.draft,),
        RequestStatus.pending_approval,
        Who.member,
        audit.AuditAction.REQUEST_SUBMITTED,
        ("This request is {status}; only drafts are submitted.", "not_a_draft"),
    ),
    Action.approve: Transition(
        (RequestStatus.pending_approval,),
        RequestStatus.pending_review,
        Who.approver,
        audit.AuditAction.REQUEST_APPROVED,
        ("This request is not waiting for approval.", "not_pending_approval"),
    ),
    Action.publish: Transition(
        (RequestStatus.pending_review,),
        RequestStatus.active,
        Who.moderator,
        audit.AuditAction.REQUEST_REVIEW_APPROVED,
        ("This request is not waiting for review.", "not_pending_review"),
    ),
    Action.reject: Transition(
        (RequestStatus.pending_review,),
        RequestStatus.rejected,
        Who.moderator,
        audit.AuditAction.REQUEST_REVIEW_REJECTED,
        ("This request is not waiting for review.", "not_pending_review"),
    ),
    Action.close: Transition(
        (RequestStatus.active,),
        RequestStatus.closed,
        Who.member,
        audit.AuditAction.REQUEST_CLOSED,
        ("Only an active request can be closed.", "not_active"),
    ),
    Action.expire: Transition(
        (RequestStatus.active,),
        RequestStatus.closed,
        Who.scheduler,
        audit.AuditAction.REQUEST_CLOSED,
        ("Only an active request expires.", "not_active"),
    ),
    Action.withdraw: Transition(
        _WAITING,
        RequestStatus.withdrawn,
        Who.member,
        audit.AuditAction.REQUEST_WITHDRAWN,
        ("A published request cannot be withdrawn; close it instead.", "already_published"),
    ),
}

# A waiting status the policy turns off is passed through to the next one.
_GATES: dict[RequestStatus, tuple[Callable[[PolicySettings], bool], RequestStatus]] = {
    RequestStatus.pending_approval: (lambda p: p.supervisor_approval, RequestStatus.pending_review),
    RequestStatus.pending_review: (lambda p: p.moderator_review, RequestStatus.active),
}


@dataclass(frozen=True)
class Entry:
    """What entering a status does besides the record of the action that led there."""

    audited: audit.AuditAction
    queued: str  # one job of this kind per owner asked, in the same transaction


ON_ENTRY: dict[RequestStatus, Entry] = {
    RequestStatus.active: Entry(audit.AuditAction.REQUEST_ACTIVATED, NOTICE_JOB),
}


def authorize(*, session: Session, actor: User, action: Action) -> None:
    """Raise unless the actor holds the role the action asks for (see :class:`Who`)."""
    who = TRANSITIONS[action].who
    if who == Who.approver:
        agency_service.require_member(session=session, user=actor, roles=APPROVERS)
    elif who == Who.moderator and actor.role not in (Role.moderator, Role.admin):
        raise Forbidden("Only an instance moderator reviews requests.", code="moderator_only")


def check(*, request: FootageRequest, action: Action, actor_id: uuid.UUID | None) -> None:
    """Raise unless the action applies to the request in its status, by this actor."""
    transition = TRANSITIONS[action]
    if request.status not in transition.sources:
        message, code = transition.refusal
        raise Conflict(message.format(status=request.status.value), code=code)
    if transition.who == Who.approver and request.created_by == actor_id:
        raise Forbidden(
            "A request is approved by someone other than its author.", code="self_approval"
        )


def advance(
    *,
    session: Session,
    actor: audit.Actor,
    request: FootageRequest,
    action: Action,
    policy: PolicySettings | None = None,
    **details: Any,
) -> None:
    """Take the action: check it applies, audit it (public, with ``details``), and move the
    request to its next status, passing the waiting statuses the policy turns off. A
    request that reaches ``active`` is activated in this transaction. ``policy`` is the
    policy in force for the request's agency, read here when not given and needed."""
    check(request=request, action=action, actor_id=actor.id)
    transition = TRANSITIONS[action]
    _audit(session, actor, transition.audited, request, **details)
    status = transition.target
    if status in _GATES or status == RequestStatus.active:
        policy = policy or policy_service.effective_policy(
            session=session, agency_id=request.agency_id
        )
        while status in _GATES and not _GATES[status][0](policy):
            status = _GATES[status][1]
    request.status = status
    if status == RequestStatus.active:
        assert policy is not None  # read above: only that branch leads here
        _activate(session=session, actor=actor, request=request, policy=policy)
    session.flush()


def _audit(
    session: Session,
    actor: audit.Actor,
    action: audit.AuditAction,
    request: FootageRequest,
    **details: Any,
) -> None:
    audit.record(
        session=session,
        actor=actor,
        action=action,
        subject_type="footage_request",
        subject_id=request.id,
        is_public=True,
        details={"agency_id": str(request.agency_id), **details},
    )


def record_draft(
    *, session: Session, actor: audit.Actor, request: FootageRequest, **details: Any
) -> None:
    """Audit a new draft (public): the one step of the life that has no status before."""
    _audit(session, actor, audit.AuditAction.REQUEST_DRAFTED, request, **details)


def excluded_owners(*, session: Session, agency_id: uuid.UUID) -> set[uuid.UUID]:
    """Owners who opted out of all requests or muted this agency: never notified."""
    opted = session.scalars(
        select(OwnerRequestSettings.owner_id).where(OwnerRequestSettings.opted_out.is_(True))
    )
    muted = session.scalars(select(AgencyMute.owner_id).where(AgencyMute.agency_id == agency_id))
    return set(opted) | set(muted)


def _activate(
    *, session: Session, actor: audit.Actor, request: FootageRequest, policy: PolicySettings
) -> None:
    """Target owners and write one recipient row and one notice job per owner, in this
    transaction: the notices exist if and only if the activation commits."""
    entry = ON_ENTRY[RequestStatus.active]
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
            kind=entry.queued,
            key="recipient_id",
            ids=select(Recipient.id).where(Recipient.request_id == request.id),
        )
    request.activated_at = now
    _publish_to_feed(session=session, request=request, area=area)
    request.closes_at = now + timedelta(days=policy.request_open_days)
    request.asked_count = len(rows)
    _audit(session, actor, entry.audited, request, owners_asked=len(rows))


def _publish_to_feed(*, session: Session, request: FootageRequest, area: BaseGeometry) -> None:
    agency = agency_service.get_agency(session=session, agency_id=request.agency_id)
    author = account_service.get_user(session=session, user_id=request.created_by)
    post = render_notice(request=request, agency=agency, for_feed=True)
    centre = area.centroid
    feed_service.publish_footage_request(
        session=session,
        request_id=request.id,
        agency_id=agency.id,
        author=author,
        latitude=centre.y,
        longitude=centre.x,
        title=post.title,
        body=post.body,
    )
