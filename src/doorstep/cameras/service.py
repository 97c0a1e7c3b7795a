"""Cameras: registry, ingest tokens, clips, local-first events, the timeline and retention.

Privacy: a camera's exact position leaves this module only through
:func:`owner_view` (the owner's own view). Everything else gets the coarse cell.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import h3
import structlog
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Select, and_, delete, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from doorstep import audit, geo, paging
from doorstep.accounts.models import User
from doorstep.accounts.service import actor_of
from doorstep.audit import Actor
from doorstep.cameras.models import Camera, CameraKind, Clip, EventKind, MotionEvent
from doorstep.cameras.schemas import CameraRead, ClipRead, EventRead
from doorstep.db import undo_on_rollback, utcnow
from doorstep.errors import InvalidInput, NotFound, Unauthenticated
from doorstep.inputs import DeviceRef
from doorstep.media.storage import MediaStorage
from doorstep.media.video import ClipLimits, VideoProbe, make_thumbnail, probe_clip
from doorstep.notify import service as notify_service
from doorstep.security import constant_time_equals, new_token, token_digest

log = structlog.get_logger(__name__)

CAMERA_TOKEN_PREFIX = "dsc"  # noqa: S105 (a label, not a secret)
# A camera's clock may run a little ahead of ours; more than this is a "future" start.
CLOCK_SKEW = timedelta(seconds=120)


# ---------------------------------------------------------------- registry


def _set_position(camera: Camera, latitude: float, longitude: float) -> None:
    geo.check_position(latitude, longitude)
    camera.exact_latitude, camera.exact_longitude = latitude, longitude
    camera.index_cell = geo.cell_of(latitude, longitude, geo.INDEX_RESOLUTION)
    camera.coarse_cell = geo.parent_cell(camera.index_cell, geo.COARSE_RESOLUTION)


def _check_retention(days: int) -> None:
    if not 1 <= days <= 365:
        raise InvalidInput("Retention is between 1 and 365 days.", code="invalid_retention")


def register_camera(
    *,
    session: Session,
    owner: User,
    name: str,
    kind: CameraKind,
    latitude: float,
    longitude: float,
    accepts_requests: bool = True,
    retention_days: int = 60,
) -> tuple[Camera, str]:
    """Add a camera for its owner; returns it with its ingest token (shown once, stored hashed)."""
    _check_retention(retention_days)
    camera = Camera(
        owner_id=owner.id,
        name=name.strip(),
        kind=kind,
        accepts_requests=accepts_requests,
        retention_days=retention_days,
    )
    _set_position(camera, latitude, longitude)
    session.add(camera)
    session.flush()
    token = _issue_token(camera)
    audit.record(
        session=session,
        actor=actor_of(owner),
        action=audit.AuditAction.CAMERA_REGISTERED,
        subject_type="camera",
        subject_id=camera.id,
    )
    session.flush()
    return camera, token


def _issue_token(camera: Camera) -> str:
    token = new_token(CAMERA_TOKEN_PREFIX)
    camera.token_hash = token_digest(token)
    camera.token_prefix = token[:10]
    camera.token_created_at = utcnow()
    return token


def readable_cameras(*, actor: User) -> Select[Camera]:
    """The cameras this actor may see in full: only his own."""
    return select(Camera).where(Camera.owner_id == actor.id)


def list_cameras(*, session: Session, owner: User) -> list[Camera]:
    return list(session.scalars(readable_cameras(actor=owner).order_by(Camera.created_at)))


def get_own_camera(*, session: Session, owner: User, camera_id: uuid.UUID) -> Camera:
    """The owner's camera, or 404 (whether it exists or belongs to someone else)."""
    camera = session.scalar(readable_cameras(actor=owner).where(Camera.id == camera_id))
    if camera is None:
        raise NotFound("No such camera.", code="camera_not_found")
    return camera


def update_camera(
    *,
    session: Session,
    owner: User,
    camera_id: uuid.UUID,
    name: str | None = None,
    kind: CameraKind | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    accepts_requests: bool | None = None,
    retention_days: int | None = None,
) -> Camera:
    camera = get_own_camera(session=session, owner=owner, camera_id=camera_id)
    if (latitude is None) != (longitude is None):
        raise InvalidInput("Send latitude and longitude together.", code="invalid_position")
    if name is not None:
        camera.name = name.strip()
    if kind is not None:
        camera.kind = kind
    if latitude is not None and longitude is not None:
        _set_position(camera, latitude, longitude)
    if accepts_requests is not None:
        camera.accepts_requests = accepts_requests
    if retention_days is not None:
        _check_retention(retention_days)
        camera.retention_days = retention_days
    session.flush()
    return camera


def rotate_camera_token(
    *, session: Session, owner: User, camera_id: uuid.UUID
) -> tuple[Camera, str]:
    """A new ingest token; the old one stops working at once. Audited."""
    camera = get_own_camera(session=session, owner=owner, camera_id=camera_id)
    token = _issue_token(camera)
    audit.record(
        session=session,
        actor=actor_of(owner),
        action=audit.AuditAction.CAMERA_TOKEN_ROTATED,
        subject_type="camera",
        subject_id=camera.id,
    )
    session.flush()
    return camera, token


def revoke_camera_token(*, session: Session, owner: User, camera_id: uuid.UUID) -> Camera:
    camera = get_own_camera(session=session, owner=owner, camera_id=camera_id)
    camera.token_hash = None
    camera.token_prefix = None
    audit.record(
        session=session,
        actor=actor_of(owner),
        action=audit.AuditAction.CAMERA_TOKEN_REVOKED,
        subject_type="camera",
        subject_id=camera.id,
    )
    session.flush()
    return camera


def authenticate_camera(*, session: Session, camera_id: uuid.UUID, token: str | None) -> Camera:
    """The camera a device speaks for; a missing, wrong or revoked token is 401."""
    camera = session.get(Camera, camera_id)
    if (
        not token
        or camera is None
        or camera.token_hash is None
        or not constant_time_equals(camera.token_hash, token_digest(token))
    ):
        raise Unauthenticated(
            "This camera token is not valid or was revoked.", code="invalid_camera_token"
        )
    return camera


def delete_camera(
    *, session: Session, storage: MediaStorage, owner: User, camera_id: uuid.UUID
) -> int:
    """Remove a camera with its clips: files are deleted from storage, not hidden."""
    camera = get_own_camera(session=session, owner=owner, camera_id=camera_id)
    clips = list(session.scalars(select(Clip).where(Clip.camera_id == camera.id)))
    for clip in clips:
        _erase_files(storage, clip)
    session.execute(delete(MotionEvent).where(MotionEvent.camera_id == camera.id))
    session.execute(delete(Clip).where(Clip.camera_id == camera.id))
    audit.record(
        session=session,
        actor=actor_of(owner),
        action=audit.AuditAction.CAMERA_DELETED,
        subject_type="camera",
        subject_id=camera.id,
        details={"clips": len(clips)},
    )
    session.delete(camera)
    session.flush()
    return len(clips)


def owner_view(camera: Camera) -> CameraRead:
    """The owner's view: the one place the exact position is put into a response."""
    return CameraRead(
        id=camera.id,
        name=camera.name,
        kind=camera.kind,
        latitude=camera.exact_latitude,
        longitude=camera.exact_longitude,
        coarse_cell=h3.int_to_str(camera.coarse_cell),
        accepts_requests=camera.accepts_requests,
        retention_days=camera.retention_days,
        token_prefix=camera.token_prefix,
        token_active=camera.token_hash is not None,
        created_at=camera.created_at,
    )


# ---------------------------------------------------------------- ingest


def _check_start(started_at: datetime, now: datetime) -> None:
    if started_at.tzinfo is None:
        raise InvalidInput("Times need a time zone (e.g. 2026-11-29T12:00:00Z).", code="naive_time")
    if started_at > now + CLOCK_SKEW:
        raise InvalidInput("The start time is in the future.", code="start_in_future")


def _check_age(
    started_at: datetime, now: datetime, *, camera: Camera, max_age_days: int | None, what: str
) -> None:
    """Refuse what the retention sweep would delete at once: a start older than the
    camera's retention, or than ``max_age_days`` (the instance's setting) when that is
    shorter. A longer setting cannot keep a clip past its camera's retention, so the
    shorter of the two applies."""
    days, why = camera.retention_days, "this camera's retention"
    if max_age_days is not None and max_age_days < days:
        days, why = max_age_days, "this instance's limit"
    if started_at < now - timedelta(days=days):
        raise InvalidInput(
            f"A {what} may start at most {days} days ago ({why}); this one started at "
            f"{started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC.",
            code=f"{what}_too_old",
            max_age_days=days,
        )


_DEVICE_REF = TypeAdapter(DeviceRef)


def _check_device_ref(device_ref: str | None) -> None:
    """The schemas refuse a bad device_ref with a 422 before a service runs; this is the
    same rule for every other caller (the demo, scripts), so none can store an empty or
    over-long reference that would break de-duplication."""
    if device_ref is None:
        return
    try:
        _DEVICE_REF.validate_python(device_ref)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"]
        raise InvalidInput(
            f"This device_ref is not valid: {problem}.", code="invalid_device_ref"
        ) from None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class IngestedClip:
    event: MotionEvent
    clip: Clip | None
    # False when the device sent this device_ref before: the event already recorded.
    created: bool = True


def find_device_event(
    *, session: Session, camera: Camera, device_ref: str | None
) -> tuple[MotionEvent, Clip | None] | None:
    """The event (and clip) this camera already sent under ``device_ref``: devices retry
    after a lost answer, and the same reference must not make a second event."""
    if device_ref is None:
        return None
    event = session.scalar(
        select(MotionEvent).where(
            MotionEvent.camera_id == camera.id, MotionEvent.device_ref == device_ref
        )
    )
    if event is None:
        return None
    return event, session.get(Clip, event.clip_id) if event.clip_id else None


def _insert_event(
    session: Session, camera: Camera, event: MotionEvent, *, clip: Clip | None = None
) -> bool:
    """Insert an event (and its clip); False when its device_ref was recorded meanwhile.

    The caller looked the reference up first, which settles it on SQLite (one writer at a
    time). On PostgreSQL two requests with the same reference can both find nothing; the
    unique index refuses the second, and the savepoint lets its transaction carry on to
    answer with the first one's event instead of a 500.
    """
    if event.device_ref is None:
        if clip is not None:
            session.add(clip)
            session.flush()
        session.add(event)
        session.flush()
        return True
    try:
        with session.begin_nested():
            if clip is not None:
                session.add(clip)
                session.flush()
            session.add(event)
            session.flush()
    except IntegrityError:
        if find_device_event(session=session, camera=camera, device_ref=event.device_ref):
            return False
        raise
    return True


@dataclass(frozen=True)
class StoredClip:
    """A clip that passed every check, its file and thumbnail in storage, not yet recorded:
    :func:`record_clip` records it, :func:`discard_clip` removes the files."""

    id: uuid.UUID
    camera_id: uuid.UUID
    storage_key: str
    thumbnail_key: str
    sha256: str
    size_bytes: int
    probe: VideoProbe


def store_clip(
    *, storage: MediaStorage, limits: ClipLimits, camera_id: uuid.UUID, file_path: Path
) -> StoredClip:
    """Check a clip with PyAV (every frame decoded), hash it, make its thumbnail and store
    both files. The slow part of an upload, so it touches no database: run it between
    transactions, off the event loop. A refusal or a failure leaves nothing in storage."""
    probe = probe_clip(file_path, limits)
    thumbnail = make_thumbnail(file_path)
    clip_id = uuid.uuid4()
    stored = StoredClip(
        id=clip_id,
        camera_id=camera_id,
        storage_key=f"clips/{camera_id}/{clip_id}.mp4",
        thumbnail_key=f"thumbnails/{camera_id}/{clip_id}.jpg",
        sha256=sha256_file(file_path),
        size_bytes=file_path.stat().st_size,
        probe=probe,
    )
    try:
        storage.put_file(stored.storage_key, file_path, "video/mp4")
        storage.put_bytes(stored.thumbnail_key, thumbnail, "image/jpeg")
    except BaseException:
        discard_clip(storage=storage, stored=stored)
        raise
    return stored


def discard_clip(*, storage: MediaStorage, stored: StoredClip) -> None:
    """Remove a stored clip's files (a clip that will not be recorded)."""
    for key in (stored.storage_key, stored.thumbnail_key):
        storage.delete(key)


def check_clip(
    *,
    session: Session,
    camera: Camera,
    started_at: datetime,
    device_ref: str | None,
    max_age_days: int | None = None,
) -> IngestedClip | None:
    """The checks a clip passes before its file is looked at: a start time neither in the
    future nor older than the camera keeps clips, a valid device_ref. Returns the event
    already recorded under this device_ref (a retry, ``created`` False), else None.
    Only reads: fit for a read-only transaction."""
    now = utcnow()
    _check_start(started_at, now)
    _check_age(started_at, now, camera=camera, max_age_days=max_age_days, what="clip")
    _check_device_ref(device_ref)
    existing = find_device_event(session=session, camera=camera, device_ref=device_ref)
    if existing is None:
        return None
    return IngestedClip(event=existing[0], clip=existing[1], created=False)


def record_clip(
    *,
    session: Session,
    storage: MediaStorage,
    camera: Camera,
    stored: StoredClip,
    started_at: datetime,
    kind: EventKind,
    device_ref: str | None = None,
    max_age_days: int | None = None,
) -> IngestedClip:
    """Record a stored clip with its event and alert the owner: only the checks of
    :func:`check_clip` (again, for what changed meanwhile) and inserts, so the write
    transaction stays short. The stored files are removed if the transaction rolls back
    (the commit failing included), and at once if the device_ref turns out to be
    recorded already (``created`` False, the earlier event returned)."""
    undo_on_rollback(session, partial(discard_clip, storage=storage, stored=stored))
    existing = check_clip(
        session=session,
        camera=camera,
        started_at=started_at,
        device_ref=device_ref,
        max_age_days=max_age_days,
    )
    if existing is None:
        probe = stored.probe
        clip = Clip(
            id=stored.id,
            camera_id=camera.id,
            owner_id=camera.owner_id,
            started_at=started_at,
            ended_at=started_at + timedelta(seconds=probe.duration_s),
            sha256=stored.sha256,
            size_bytes=stored.size_bytes,
            duration_s=probe.duration_s,
            width=probe.width,
            height=probe.height,
            codec=probe.codec,
            storage_key=stored.storage_key,
            thumbnail_key=stored.thumbnail_key,
        )
        event = MotionEvent(
            camera_id=camera.id,
            owner_id=camera.owner_id,
            kind=kind,
            started_at=started_at,
            ended_at=clip.ended_at,
            on_device=False,
            device_ref=device_ref,
            clip_id=clip.id,
        )
        if _insert_event(session, camera, event, clip=clip):
            _alert_owner(session=session, camera=camera, event=event)
            return IngestedClip(event=event, clip=clip)
        found = find_device_event(session=session, camera=camera, device_ref=device_ref)
        assert found is not None
        existing = IngestedClip(event=found[0], clip=found[1], created=False)
    discard_clip(storage=storage, stored=stored)
    return existing


def ingest_clip(
    *,
    session: Session,
    storage: MediaStorage,
    limits: ClipLimits,
    camera: Camera,
    file_path: Path,
    started_at: datetime,
    kind: EventKind,
    device_ref: str | None = None,
    max_age_days: int | None = None,
) -> IngestedClip:
    """Validate a clip with PyAV, store it and its thumbnail, record it and alert its owner,
    all in the caller's transaction (the demo, scripts).

    Every check runs before anything is stored, and the stored files are removed if the
    transaction rolls back: a refusal leaves nothing. A clip sent again under the same
    ``device_ref`` returns the event already recorded (``created`` False). Blocking, and
    it holds the transaction while it decodes: the upload route instead runs
    :func:`check_clip`, :func:`store_clip` and :func:`record_clip` in turn, with the slow
    middle step outside any transaction.
    """
    existing = check_clip(
        session=session,
        camera=camera,
        started_at=started_at,
        device_ref=device_ref,
        max_age_days=max_age_days,
    )
    if existing is not None:
        return existing
    stored = store_clip(storage=storage, limits=limits, camera_id=camera.id, file_path=file_path)
    return record_clip(
        session=session,
        storage=storage,
        camera=camera,
        stored=stored,
        started_at=started_at,
        kind=kind,
        device_ref=device_ref,
        max_age_days=max_age_days,
    )


def _device_event_times(
    started_at: datetime,
    ended_at: datetime | None,
    max_duration_s: float,
    now: datetime,
    *,
    camera: Camera,
    max_age_days: int | None,
) -> datetime:
    """Check a local-first event's times; returns its end (an instant ends when it starts)."""
    _check_start(started_at, now)
    _check_age(started_at, now, camera=camera, max_age_days=max_age_days, what="event")
    ended_at = ended_at or started_at
    if ended_at < started_at:
        raise InvalidInput("The event ends before it starts.", code="invalid_window")
    if (ended_at - started_at).total_seconds() > max_duration_s:
        raise InvalidInput(
            f"An event lasts at most {max_duration_s:.0f} seconds.", code="event_too_long"
        )
    if ended_at > now + CLOCK_SKEW:
        raise InvalidInput("The end time is in the future.", code="end_in_future")
    return ended_at


@dataclass(frozen=True)
class ReportedEvent:
    event: MotionEvent
    clip: Clip | None
    # False when the device sent this device_ref before: the event already recorded.
    created: bool


def report_device_event(
    *,
    session: Session,
    camera: Camera,
    kind: EventKind,
    started_at: datetime,
    ended_at: datetime | None,
    device_ref: str | None,
    max_duration_s: float,
    max_age_days: int | None = None,
) -> ReportedEvent:
    """Record a local-first event (its clip stays on the owner's device, "on device") and
    alert the owner; or, when this camera already sent ``device_ref``, return that event
    (``created`` False) — also when a concurrent request recorded it a moment ago."""
    now = utcnow()
    ended_at = _device_event_times(
        started_at, ended_at, max_duration_s, now, camera=camera, max_age_days=max_age_days
    )
    _check_device_ref(device_ref)
    existing = find_device_event(session=session, camera=camera, device_ref=device_ref)
    if existing is None:
        event = MotionEvent(
            camera_id=camera.id,
            owner_id=camera.owner_id,
            kind=kind,
            started_at=started_at,
            ended_at=ended_at,
            on_device=True,
            device_ref=device_ref,
        )
        if _insert_event(session, camera, event):
            _alert_owner(session=session, camera=camera, event=event)
            return ReportedEvent(event=event, clip=None, created=True)
        existing = find_device_event(session=session, camera=camera, device_ref=device_ref)
        assert existing is not None
    return ReportedEvent(event=existing[0], clip=existing[1], created=False)


def record_device_event(
    *,
    session: Session,
    camera: Camera,
    kind: EventKind,
    started_at: datetime,
    ended_at: datetime | None,
    device_ref: str | None,
    max_duration_s: float,
    max_age_days: int | None = None,
) -> MotionEvent:
    """Record a local-first event: its clip stays on the owner's device ("on device").
    A ``device_ref`` this camera already sent gives back the event recorded then."""
    return report_device_event(
        session=session,
        camera=camera,
        kind=kind,
        started_at=started_at,
        ended_at=ended_at,
        device_ref=device_ref,
        max_duration_s=max_duration_s,
        max_age_days=max_age_days,
    ).event


@dataclass(frozen=True)
class DeviceEventSpec:
    kind: EventKind
    started_at: datetime
    ended_at: datetime | None
    device_ref: str | None


@dataclass(frozen=True)
class BatchResult:
    created: int
    duplicates: int


def _known_refs(session: Session, camera: Camera, refs: Sequence[str]) -> set[str]:
    if not refs:
        return set()
    return set(
        session.scalars(
            select(MotionEvent.device_ref).where(
                MotionEvent.camera_id == camera.id, MotionEvent.device_ref.in_(refs)
            )
        )
    )


def _fresh_rows(rows: Sequence[dict[str, Any]], known: set[str]) -> list[dict[str, Any]]:
    """The rows to insert: none whose device_ref is known, one per device_ref in the batch."""
    seen = set(known)
    fresh: list[dict[str, Any]] = []
    for row in rows:
        ref = row["device_ref"]
        if ref is not None:
            if ref in seen:
                continue
            seen.add(ref)
        fresh.append(row)
    return fresh


# A batch whose references keep colliding with concurrent requests gives up after this many
# tries (each try loses only to a request that recorded one of its events meanwhile).
_BATCH_TRIES = 3


def record_device_events(
    *,
    session: Session,
    camera: Camera,
    events: Sequence[DeviceEventSpec],
    max_duration_s: float,
    max_age_days: int | None = None,
) -> BatchResult:
    """Record many local-first events at once (a device catching up after an outage).

    All or nothing: one bad event refuses the batch and names it. Events whose
    ``device_ref`` this camera already sent, or that repeat one in the batch, are
    skipped, so a retried batch records each event once (also when a concurrent request
    records one of them meanwhile). The owner gets one alert for the batch (if any of its
    kinds interest him), not one per event.
    """
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for index, spec in enumerate(events):
        try:
            ended_at = _device_event_times(
                spec.started_at,
                spec.ended_at,
                max_duration_s,
                now,
                camera=camera,
                max_age_days=max_age_days,
            )
            _check_device_ref(spec.device_ref)
        except InvalidInput as exc:
            raise InvalidInput(f"Event {index}: {exc.message}", code=exc.code, index=index) from exc
        rows.append(
            {
                "id": uuid.uuid4(),
                "camera_id": camera.id,
                "owner_id": camera.owner_id,
                "kind": spec.kind,
                "started_at": spec.started_at,
                "ended_at": ended_at,
                "on_device": True,
                "device_ref": spec.device_ref,
                "created_at": now,
            }
        )
    refs = sorted({r["device_ref"] for r in rows if r["device_ref"] is not None})
    for attempt in range(_BATCH_TRIES):
        fresh = _fresh_rows(rows, _known_refs(session, camera, refs))
        if not fresh:
            break
        try:
            # On PostgreSQL a concurrent request may record one of these references between
            # the look-up and the insert; the savepoint lets the batch look again.
            with session.begin_nested():
                session.execute(insert(MotionEvent), fresh)
            break
        except IntegrityError:
            if attempt == _BATCH_TRIES - 1:
                raise
    if fresh:
        kinds = sorted({EventKind(r["kind"]).value for r in fresh})
        prefs_kinds = set(notify_service.alert_kinds(session=session, user_id=camera.owner_id))
        wanted = [k for k in kinds if k in prefs_kinds]
        if wanted:
            notify_service.alert_user(
                session=session,
                user_id=camera.owner_id,
                topic="camera_event",
                title=f"{len(fresh)} {'event' if len(fresh) == 1 else 'events'} at {camera.name}",
                body=f"{camera.name} reported {len(fresh)} ({', '.join(kinds)}), kept on your "
                "device.",
                link=f"/timeline?camera={camera.id}",
            )
    session.flush()
    return BatchResult(created=len(fresh), duplicates=len(rows) - len(fresh))


def _alert_owner(*, session: Session, camera: Camera, event: MotionEvent) -> None:
    where = " (kept on your device)" if event.on_device else ""
    notify_service.alert_user(
        session=session,
        user_id=camera.owner_id,
        topic="camera_event",
        title=f"{event.kind.value.capitalize()} at {camera.name}",
        body=f"{camera.name} recorded {event.kind.value} at "
        f"{event.started_at:%Y-%m-%d %H:%M:%S} UTC{where}.",
        link=f"/events/{event.id}",
        event_kind=event.kind.value,
    )


# ---------------------------------------------------------------- timeline and clips


def readable_events(*, actor: User) -> Select[MotionEvent, Camera, Clip]:
    """Events this actor may see: only those of his own cameras."""
    return (
        select(MotionEvent, Camera, Clip)
        .join(Camera, Camera.id == MotionEvent.camera_id)
        .outerjoin(Clip, Clip.id == MotionEvent.clip_id)
        .where(MotionEvent.owner_id == actor.id)
    )


def readable_clips(*, actor: User) -> Select[Clip]:
    """Clips this actor may watch: his own, not deleted."""
    return select(Clip).where(Clip.owner_id == actor.id, Clip.deleted_at.is_(None))


def _encode_cursor(event: MotionEvent) -> str:
    return paging.encode_cursor(event.started_at, event.id)


@dataclass
class TimelinePage:
    rows: Sequence[tuple[MotionEvent, Camera, Clip | None]]
    next_cursor: str | None


def timeline(
    *,
    session: Session,
    owner: User,
    camera_id: uuid.UUID | None = None,
    kinds: list[EventKind] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    on_device: bool | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> TimelinePage:
    """The owner's events, newest first, keyset-paginated (stable while new events arrive)."""
    limit = max(1, min(limit, 200))
    stmt = readable_events(actor=owner)
    if camera_id is not None:
        stmt = stmt.where(MotionEvent.camera_id == camera_id)
    if kinds:
        stmt = stmt.where(MotionEvent.kind.in_(kinds))
    if since is not None:
        stmt = stmt.where(MotionEvent.started_at >= since)
    if until is not None:
        stmt = stmt.where(MotionEvent.started_at < until)
    if on_device is not None:
        stmt = stmt.where(MotionEvent.on_device.is_(on_device))
    if cursor:
        at, event_id = paging.decode_cursor(cursor)
        stmt = stmt.where(
            or_(
                MotionEvent.started_at < at,
                and_(MotionEvent.started_at == at, MotionEvent.id < event_id),
            )
        )
    rows = session.execute(
        stmt.order_by(MotionEvent.started_at.desc(), MotionEvent.id.desc()).limit(limit + 1)
    ).all()
    next_cursor = _encode_cursor(rows[limit - 1][0]) if len(rows) > limit else None
    return TimelinePage(rows=rows[:limit], next_cursor=next_cursor)


def get_own_event(
    *, session: Session, owner: User, event_id: uuid.UUID
) -> tuple[MotionEvent, Camera, Clip | None]:
    row = session.execute(readable_events(actor=owner).where(MotionEvent.id == event_id)).first()
    if row is None:
        raise NotFound("No such event.", code="event_not_found")
    return row[0], row[1], row[2]


def get_own_clip(*, session: Session, owner: User, clip_id: uuid.UUID) -> Clip:
    clip = session.scalar(readable_clips(actor=owner).where(Clip.id == clip_id))
    if clip is None:
        raise NotFound("No such clip.", code="clip_not_found")
    return clip


def clip_view(clip: Clip) -> ClipRead:
    return ClipRead(
        id=clip.id,
        camera_id=clip.camera_id,
        started_at=clip.started_at,
        ended_at=clip.ended_at,
        sha256=clip.sha256,
        size_bytes=clip.size_bytes,
        duration_s=clip.duration_s,
        width=clip.width,
        height=clip.height,
        codec=clip.codec,
        video_url=f"/media/clips/{clip.id}.mp4",
        thumbnail_url=f"/media/clips/{clip.id}.jpg",
    )


def event_view(event: MotionEvent, camera: Camera, clip: Clip | None) -> EventRead:
    live_clip = clip if clip is not None and clip.deleted_at is None else None
    return EventRead(
        id=event.id,
        camera_id=camera.id,
        camera_name=camera.name,
        kind=event.kind,
        started_at=event.started_at,
        ended_at=event.ended_at,
        on_device=event.on_device,
        clip=clip_view(live_clip) if live_clip else None,
    )


def _erase_files(storage: MediaStorage, clip: Clip) -> None:
    for key in (clip.storage_key, clip.thumbnail_key):
        if key:
            storage.delete(key)
    clip.storage_key = None
    clip.thumbnail_key = None


def _erase_clip(session: Session, storage: MediaStorage, clip: Clip, reason: str) -> None:
    _erase_files(storage, clip)
    clip.deleted_at = utcnow()
    clip.deleted_reason = reason
    session.execute(delete(MotionEvent).where(MotionEvent.clip_id == clip.id))


def delete_clip(
    *, session: Session, storage: MediaStorage, owner: User, clip_id: uuid.UUID
) -> Clip:
    """Delete one of the owner's clips now: the file leaves storage, not just the view. Audited."""
    clip = get_own_clip(session=session, owner=owner, clip_id=clip_id)
    _erase_clip(session, storage, clip, "owner")
    audit.record(
        session=session,
        actor=actor_of(owner),
        action=audit.AuditAction.CLIP_DELETED,
        subject_type="clip",
        subject_id=clip.id,
        details={"sha256": clip.sha256, "reason": "owner"},
    )
    session.flush()
    return clip


def delete_event(
    *, session: Session, storage: MediaStorage, owner: User, event_id: uuid.UUID
) -> None:
    """Delete an event; its stored clip, if any, is deleted with it."""
    event, _camera, clip = get_own_event(session=session, owner=owner, event_id=event_id)
    if clip is not None and clip.deleted_at is None:
        delete_clip(session=session, storage=storage, owner=owner, clip_id=clip.id)
    else:
        session.execute(delete(MotionEvent).where(MotionEvent.id == event.id))
    session.flush()


def sweep_retention(*, session: Session, storage: MediaStorage, batch: int = 500) -> int:
    """Delete clips (files and all) and local-first events older than their camera's retention.

    Returns how many clips were deleted. Runs in batches; call again until it returns 0.
    """
    now = utcnow()
    erased = 0
    for days in session.scalars(select(Camera.retention_days).distinct()).all():
        cutoff = now - timedelta(days=days)
        clips = session.scalars(
            select(Clip)
            .join(Camera, Camera.id == Clip.camera_id)
            .where(
                Camera.retention_days == days, Clip.deleted_at.is_(None), Clip.started_at < cutoff
            )
            .limit(batch)
        ).all()
        for clip in clips:
            try:
                _erase_clip(session, storage, clip, "retention")
            except Exception as exc:  # one unreachable file must not stall every deletion
                log.warning("retention.delete_failed", clip_id=str(clip.id), error=repr(exc))
                continue
            erased += 1
        on_device = (
            select(MotionEvent.id)
            .join(Camera, Camera.id == MotionEvent.camera_id)
            .where(
                Camera.retention_days == days,
                MotionEvent.clip_id.is_(None),
                MotionEvent.started_at < cutoff,
            )
        )
        session.execute(delete(MotionEvent).where(MotionEvent.id.in_(on_device)))
    if erased:
        audit.record(
            session=session,
            actor=Actor.system("retention"),
            action=audit.AuditAction.CLIP_RETENTION_DELETED,
            subject_type="instance",
            subject_id="clips",
            details={"clips": erased},
        )
    session.flush()
    return erased


def clip_file_key(clip: Clip, *, thumbnail: bool) -> str:
    key = clip.thumbnail_key if thumbnail else clip.storage_key
    if key is None:
        raise NotFound("This clip's file was deleted.", code="clip_deleted")
    return key
