"""Footage requests from the owner's side: his inbox, his clips in the window, sharing,
declining, muting, opting out, withdrawing a share, reminders and his sharing history.

Nothing leaves an owner's account without an action of that owner: evidence is
created here only, and only from the owner's own clips and events.

The owner's lists (inbox, muted agencies, sharing history) join the agencies table to
name each agency in the same query: read models of the agencies domain, for speed
(one query per page, whatever its length). Single lookups go through its service.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.accounts.models import User
from doorstep.accounts.service import actor_of
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import Agency
from doorstep.cameras import inbox as camera_inbox
from doorstep.cameras.models import Camera, Clip, MotionEvent
from doorstep.db import after_commit, utcnow
from doorstep.errors import Conflict, InvalidInput, NotFound
from doorstep.footage import policy as policy_service
from doorstep.footage import redaction
from doorstep.footage.models import (
    AgencyMute,
    Evidence,
    EvidenceAccess,
    EvidenceStatus,
    FootageRequest,
    OwnerRequestSettings,
    Recipient,
    RecipientStatus,
    RequestStatus,
)
from doorstep.media.redaction import Choices
from doorstep.media.storage import MediaStorage

LIVE_STATUSES = (EvidenceStatus.available, EvidenceStatus.pending_upload, EvidenceStatus.redacting)
"""Shared and not taken back: what a second share of the same event skips."""


@dataclass
class OwnerRequest:
    request: FootageRequest
    agency: Agency
    recipient: Recipient


def inbox(*, session: Session, owner: User) -> list[OwnerRequest]:
    """Every request that asked this owner, newest first."""
    rows = session.execute(
        select(FootageRequest, Agency, Recipient)
        .join(Recipient, Recipient.request_id == FootageRequest.id)
        .join(Agency, Agency.id == FootageRequest.agency_id)
        .where(Recipient.owner_id == owner.id)
        .order_by(Recipient.created_at.desc())
    ).all()
    return [OwnerRequest(r[0], r[1], r[2]) for r in rows]


def get_owner_request(*, session: Session, owner: User, request_id: uuid.UUID) -> OwnerRequest:
    """A request that asked this owner, or 404 (one that did not ask him included)."""
    row = session.execute(
        select(FootageRequest, Recipient)
        .join(Recipient, Recipient.request_id == FootageRequest.id)
        .where(Recipient.owner_id == owner.id, FootageRequest.id == request_id)
    ).first()
    if row is None:
        raise NotFound("No such request.", code="request_not_found")
    agency = agency_service.get_agency(session=session, agency_id=row[0].agency_id)
    return OwnerRequest(row[0], agency, row[1])


def events_in_window(
    *, session: Session, owner: User, found: OwnerRequest
) -> list[tuple[MotionEvent, Camera, Clip | None]]:
    """The owner's own events in the request's window, from the cameras it asked about."""
    camera_ids = [uuid.UUID(c) for c in found.recipient.camera_ids]
    stmt = (
        camera_inbox.readable_events(actor=owner)
        .where(
            MotionEvent.camera_id.in_(camera_ids),
            MotionEvent.started_at < found.request.window_end,
            MotionEvent.ended_at > found.request.window_start,
        )
        .order_by(MotionEvent.started_at)
    )
    return [(r[0], r[1], r[2]) for r in session.execute(stmt).all()]


def share(
    *,
    session: Session,
    storage: MediaStorage,
    owner: User,
    request_id: uuid.UUID,
    event_ids: list[uuid.UUID],
    reveal_identity: bool,
    choices: Choices | None = None,
) -> list[Evidence]:
    """Share chosen events of the owner's own in the window, redacted as ``choices`` say
    (faces, text and zones hidden unless turned off). A stored clip is staged and its
    redacted copy made by the worker (``footage.redaction``): it becomes evidence, and
    the share counts, once the copy exists. An on-device event becomes a pending upload
    the device fulfils, redacted when it arrives. Audited."""
    choices = choices or Choices()
    found = get_owner_request(session=session, owner=owner, request_id=request_id)
    if found.request.status != RequestStatus.active:
        raise Conflict("This request is no longer open.", code="request_not_active")
    if not event_ids:
        raise InvalidInput("Choose at least one clip to share.", code="nothing_chosen")
    eligible, already = _eligible(session, owner, found, event_ids)
    policy = policy_service.effective_policy(session=session, agency_id=found.agency.id)
    now = utcnow()
    delete_after = now + timedelta(days=policy.evidence_retention_days)
    created = [
        _evidence_of(session, storage, found, *eligible[event_id], now, delete_after, choices)
        for event_id in dict.fromkeys(event_ids)
        if event_id not in already
    ]
    for event_id in event_ids:  # his previews of a clip are done with once it is shared
        after_commit(session, partial(redaction.discard_previews, storage, owner.id, event_id))
    pending = sum(1 for c in created if c.status == EvidenceStatus.pending_upload)
    if pending:  # the owner's answer stands; the device sends the clip when it can
        found.recipient.status = RecipientStatus.shared
        found.recipient.answered_at = now
    found.recipient.reveal_identity = reveal_identity or found.recipient.reveal_identity
    found.recipient.next_reminder_at = None
    audit.record(
        session=session,
        actor=actor_of(owner),
        action=audit.AuditAction.EVIDENCE_SHARED,
        subject_type="footage_request",
        subject_id=found.request.id,
        details={
            "items": len(created),
            "pending_uploads": pending,
            "redacting": sum(1 for c in created if c.status == EvidenceStatus.redacting),
            "unredacted": choices.unredacted,
        },
    )
    session.flush()
    return created


def _eligible(
    session: Session, owner: User, found: OwnerRequest, event_ids: list[uuid.UUID]
) -> tuple[dict[uuid.UUID, tuple[MotionEvent, Clip | None]], set[uuid.UUID | None]]:
    """The owner's events in the window, by id, and those already shared (live); a chosen
    event outside them is refused."""
    in_window = events_in_window(session=session, owner=owner, found=found)
    eligible = {event.id: (event, clip) for event, _camera, clip in in_window}
    already = set(
        session.scalars(
            select(Evidence.source_event_id).where(
                Evidence.recipient_id == found.recipient.id,
                Evidence.status.in_(LIVE_STATUSES),
            )
        )
    )
    unknown = [str(i) for i in event_ids if i not in eligible]
    if unknown:
        raise InvalidInput(
            "Only your own clips from the request's window can be shared.",
            code="clip_not_eligible",
            event_ids=unknown,
        )
    return eligible, already


def _evidence_of(
    session: Session,
    storage: MediaStorage,
    found: OwnerRequest,
    event: MotionEvent,
    clip: Clip | None,
    now: datetime,
    delete_after: datetime,
    choices: Choices,
) -> Evidence:
    """One shared event as evidence: its stored clip staged for redaction (the staged
    file goes if the transaction rolls back), or a pending upload when the clip is on
    the device; either way with the owner's redaction choices."""
    item = Evidence(
        id=uuid.uuid4(),
        request_id=found.request.id,
        recipient_id=found.recipient.id,
        source_event_id=event.id,
        kind=event.kind.value,
        started_at=event.started_at,
        ended_at=event.ended_at,
        shared_at=now,
        delete_after=delete_after,
    )
    session.add(item)
    if clip is not None and clip.deleted_at is None and clip.storage_key:
        item.source_clip_id, item.original_sha256 = clip.id, clip.sha256
        item.duration_s, item.width, item.height = clip.duration_s, clip.width, clip.height
        redaction.queue_redaction(
            session, storage, item, choices, source_key=clip.storage_key, copy_source=True
        )
    else:
        item.status = EvidenceStatus.pending_upload
        item.redaction_request = choices.as_dict()
    return item


def decline(*, session: Session, owner: User, request_id: uuid.UUID) -> Recipient:
    """Decline. The agency only ever sees this in the total of declines."""
    found = get_owner_request(session=session, owner=owner, request_id=request_id)
    preparing = session.scalar(
        select(Evidence.id).where(
            Evidence.recipient_id == found.recipient.id,
            Evidence.status == EvidenceStatus.redacting,
        )
    )
    if found.recipient.status == RecipientStatus.shared or preparing is not None:
        raise Conflict(
            "You already shared clips; withdraw them one by one instead.", code="already_shared"
        )
    found.recipient.status = RecipientStatus.declined
    found.recipient.answered_at = utcnow()
    found.recipient.next_reminder_at = None
    session.flush()
    return found.recipient


def withdraw_share(
    *, session: Session, storage: MediaStorage, owner: User, evidence_id: uuid.UUID
) -> Evidence:
    """Take back a shared clip the agency has not opened yet (after that it is final)."""
    # Locked: a device upload or an agency's first view racing the withdrawal waits for it.
    item = session.scalar(
        select(Evidence)
        .join(Recipient, Recipient.id == Evidence.recipient_id)
        .where(Evidence.id == evidence_id, Recipient.owner_id == owner.id)
        .with_for_update(of=Evidence)
    )
    if item is None:
        raise NotFound("No such shared clip.", code="evidence_not_found")
    if item.first_opened_at is not None:
        raise Conflict(
            "The agency has already opened this clip; sharing it is final.", code="already_opened"
        )
    if item.status not in LIVE_STATUSES:
        raise Conflict("This clip is no longer shared.", code="not_shared")
    staged = redaction.staged_of(item)
    if item.status == EvidenceStatus.redacting and staged:
        after_commit(session, partial(storage.delete, staged))
    if item.storage_key:
        # Once withdrawn for good: a rolled-back withdrawal keeps the clip it still shares.
        after_commit(session, partial(storage.delete, item.storage_key))
    item.storage_key = None
    item.status, item.withdrawn_at = EvidenceStatus.withdrawn, utcnow()
    audit.record(
        session=session,
        actor=actor_of(owner),
        action=audit.AuditAction.EVIDENCE_WITHDRAWN,
        subject_type="evidence",
        subject_id=item.id,
        details={"request_id": str(item.request_id)},
    )
    session.flush()
    return item


def _settings(session: Session, owner: User) -> OwnerRequestSettings:
    row = session.get(OwnerRequestSettings, owner.id)
    if row is None:
        row = OwnerRequestSettings(owner_id=owner.id, opted_out=False, reminders=True)
        session.add(row)
        session.flush()
    return row


def request_settings(*, session: Session, owner: User) -> OwnerRequestSettings:
    """The owner's settings; the defaults (not stored) when he never changed them."""
    row = session.get(OwnerRequestSettings, owner.id)
    return row or OwnerRequestSettings(owner_id=owner.id, opted_out=False, reminders=True)


def update_request_settings(
    *, session: Session, owner: User, opted_out: bool | None, reminders: bool | None
) -> OwnerRequestSettings:
    """Opt out of all requests (or back in) and turn reminders on or off. Audited."""
    row = _settings(session, owner)
    if opted_out is not None and opted_out != row.opted_out:
        row.opted_out = opted_out
        audit.record(
            session=session,
            actor=actor_of(owner),
            action=audit.AuditAction.REQUESTS_OPTED_OUT
            if opted_out
            else audit.AuditAction.REQUESTS_OPTED_IN,
            subject_type="user",
            subject_id=owner.id,
        )
    if reminders is not None:
        row.reminders = reminders
    row.updated_at = utcnow()
    session.flush()
    return row


def mute_agency(*, session: Session, owner: User, agency_id: uuid.UUID, muted: bool) -> None:
    agency_service.get_agency(session=session, agency_id=agency_id)
    existing = session.get(AgencyMute, (owner.id, agency_id))
    if muted and existing is None:
        session.add(AgencyMute(owner_id=owner.id, agency_id=agency_id))
    elif not muted and existing is not None:
        session.delete(existing)
    session.flush()


def muted_agencies(*, session: Session, owner: User) -> list[Agency]:
    return list(
        session.scalars(
            select(Agency).join(
                AgencyMute, and_(AgencyMute.agency_id == Agency.id, AgencyMute.owner_id == owner.id)
            )
        )
    )


@dataclass
class SharedItem:
    evidence: Evidence
    request: FootageRequest
    agency: Agency
    accesses: list[EvidenceAccess]


def sharing_history(*, session: Session, owner: User) -> list[SharedItem]:
    """Every clip the owner shared, with whom and when, and every time the agency
    viewed or exported it."""
    rows = session.execute(
        select(Evidence, FootageRequest, Agency)
        .join(Recipient, Recipient.id == Evidence.recipient_id)
        .join(FootageRequest, FootageRequest.id == Evidence.request_id)
        .join(Agency, Agency.id == FootageRequest.agency_id)
        .where(Recipient.owner_id == owner.id)
        .order_by(Evidence.shared_at.desc())
    ).all()
    ids = [r[0].id for r in rows]
    accesses: dict[uuid.UUID, list[EvidenceAccess]] = {i: [] for i in ids}
    if ids:
        for access in session.scalars(
            select(EvidenceAccess)
            .where(EvidenceAccess.evidence_id.in_(ids))
            .order_by(EvidenceAccess.at)
        ):
            accesses[access.evidence_id].append(access)
    return [SharedItem(r[0], r[1], r[2], accesses[r[0].id]) for r in rows]
