"""What every event a device sends goes through, with or without a clip: the checks on
its times and its device_ref, the look-up of a retry, the insert that survives a
concurrent duplicate, and the owner's alert.

Other domains: the alert goes through ``notify.service``; no query here reads another
domain's table.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from doorstep import timezones
from doorstep.accounts.models import User
from doorstep.cameras.models import Camera, Clip, MotionEvent
from doorstep.errors import InvalidInput
from doorstep.inputs import DeviceRef
from doorstep.notify import service as notify_service

# A camera's clock may run a little ahead of ours; more than this is a "future" start.
CLOCK_SKEW = timedelta(seconds=120)


@dataclass(frozen=True)
class RecordedEvent:
    """The event a device's send made, with its clip when one is stored here."""

    event: MotionEvent
    clip: Clip | None
    # False when the device sent this device_ref before: the event already recorded.
    created: bool = True


def check_start(started_at: datetime, now: datetime) -> None:
    """Refuse a start without a time zone, or further ahead than a camera's clock may run."""
    if started_at.tzinfo is None:
        raise InvalidInput("Times need a time zone (e.g. 2026-11-29T12:00:00Z).", code="naive_time")
    if started_at > now + CLOCK_SKEW:
        raise InvalidInput("The start time is in the future.", code="start_in_future")


def check_age(
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


def check_device_ref(device_ref: str | None) -> None:
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


def find_device_event(
    *, session: Session, camera: Camera, device_ref: str | None
) -> RecordedEvent | None:
    """The event (and clip) this camera already sent under ``device_ref`` (``created``
    False): devices retry after a lost answer, and the same reference must not make a
    second event."""
    if device_ref is None:
        return None
    event = session.scalar(
        select(MotionEvent).where(
            MotionEvent.camera_id == camera.id, MotionEvent.device_ref == device_ref
        )
    )
    if event is None:
        return None
    clip = session.get(Clip, event.clip_id) if event.clip_id else None
    return RecordedEvent(event=event, clip=clip, created=False)


def _add(session: Session, event: MotionEvent, clip: Clip | None) -> None:
    if clip is not None:
        session.add(clip)
        session.flush()
    session.add(event)
    session.flush()


def insert_event(
    session: Session, camera: Camera, event: MotionEvent, *, clip: Clip | None = None
) -> RecordedEvent:
    """Insert an event (and its clip); when its device_ref was recorded meanwhile, the
    event recorded then (``created`` False) instead.

    The caller looked the reference up first, which settles it on SQLite (one writer at a
    time). On PostgreSQL two requests with the same reference can both find nothing; the
    unique index refuses the second, and the savepoint lets its transaction carry on to
    answer with the first one's event instead of a 500.
    """
    if event.device_ref is None:
        _add(session, event, clip)
        return RecordedEvent(event=event, clip=clip)
    try:
        with session.begin_nested():
            _add(session, event, clip)
    except IntegrityError:
        if found := find_device_event(session=session, camera=camera, device_ref=event.device_ref):
            return found
        raise
    return RecordedEvent(event=event, clip=clip)


def insert_device_event(session: Session, camera: Camera, event: MotionEvent) -> RecordedEvent:
    """Record an event without a clip unless this camera already sent its device_ref:
    then the event recorded then (``created`` False), also when a concurrent request
    recorded it a moment ago.

    One statement when the event is new: a Core ``INSERT ... ON CONFLICT DO NOTHING`` of
    the transient ``event``'s columns (every one set by the caller), which stands for the
    look-up and the ORM's unit of work. It names no constraint: whichever unique index
    refuses a repeated reference, the insert does nothing and the event recorded before is
    read. On PostgreSQL the events are partitioned by month and a reference is kept unique
    by ``motion_event_keys``, whose trigger raises instead: there the insert runs in a
    savepoint. ``event`` stays out of the session.
    """
    row = {column.key: getattr(event, column.key) for column in MotionEvent.__table__.columns}
    on_postgresql = session.get_bind().dialect.name == "postgresql"
    upsert = postgresql.insert if on_postgresql else sqlite.insert
    statement = upsert(MotionEvent).values(row).on_conflict_do_nothing().returning(MotionEvent.id)
    try:
        with session.begin_nested() if on_postgresql else nullcontext():
            inserted = session.execute(statement).first() is not None
    except IntegrityError:
        inserted = False  # the keys table refused a repeated reference
    if inserted:
        return RecordedEvent(event=event, clip=None)
    if found := find_device_event(session=session, camera=camera, device_ref=event.device_ref):
        return found
    raise RuntimeError(f"event {event.id} was refused, and no event has its device_ref")


def owner_zone(session: Session, camera: Camera, instance_zone: str) -> ZoneInfo:
    """The zone the camera's owner reads alert times in: his preference, else the
    instance's."""
    preference = session.scalar(select(User.time_zone).where(User.id == camera.owner_id))
    return timezones.viewer_zone(preference, None, instance_zone)


def alert_owner(
    *, session: Session, camera: Camera, event: MotionEvent, instance_zone: str
) -> None:
    """Queue the owner's alert for one new event (if its kind interests him), its time in
    his zone."""
    where = " (kept on your device)" if event.on_device else ""
    when = timezones.shown(
        event.started_at, owner_zone(session, camera, instance_zone), "%Y-%m-%d %H:%M:%S %Z"
    )
    notify_service.alert_user(
        session=session,
        user_id=camera.owner_id,
        topic="camera_event",
        title=f"{event.kind.value.capitalize()} at {camera.name}",
        body=f"{camera.name} recorded {event.kind.value} at {when}{where}.",
        link=f"/events/{event.id}",
        event_kind=event.kind.value,
    )
