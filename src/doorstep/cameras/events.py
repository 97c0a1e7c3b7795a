"""Local-first events: a device reports what it saw and keeps the clip ("on device")
until the owner shares it; one at a time, or many at once after an outage.

Other domains: the owner's alerts go through ``event_alerts`` to ``notify.service``; no
query here reads another domain's table.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from doorstep.cameras import event_alerts
from doorstep.cameras import registry as camera_registry
from doorstep.cameras.device_input import (
    CLOCK_SKEW,
    RecordedEvent,
    check_age,
    check_device_ref,
    check_start,
    insert_device_event,
)
from doorstep.cameras.models import Camera, Clip, MotionEvent
from doorstep.db import new_id, utcnow
from doorstep.errors import DoorstepError, InvalidInput
from doorstep.media.kinds import EventKind


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
    check_start(started_at, now)
    check_age(started_at, now, camera=camera, max_age_days=max_age_days, what="event")
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


def report_device_event(
    *,
    session: Session,
    camera: Camera,
    kind: EventKind,
    started_at: datetime,
    ended_at: datetime | None,
    device_ref: str | None,
    max_duration_s: float,
    alert_window_s: float,
    max_age_days: int | None = None,
) -> RecordedEvent:
    """Record a local-first event (its clip stays on the owner's device, "on device") and
    make sure the owner's alert for its window is queued (``event_alerts``); or, when this
    camera already sent ``device_ref``, return that event (``created`` False) — also when
    a concurrent request recorded it a moment ago."""
    now = utcnow()
    ended_at = _device_event_times(
        started_at, ended_at, max_duration_s, now, camera=camera, max_age_days=max_age_days
    )
    check_device_ref(device_ref)
    event = MotionEvent(
        id=new_id(),
        camera_id=camera.id,
        owner_id=camera.owner_id,
        kind=kind,
        started_at=started_at,
        ended_at=ended_at,
        on_device=True,
        device_ref=device_ref,
        clip_id=None,
        created_at=now,
    )
    recorded = insert_device_event(session, camera, event)
    if recorded.created:
        event_alerts.queue_event_alert(
            session=session, camera=camera, now=now, window_s=alert_window_s
        )
    return recorded


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


def _event_row(
    camera: Camera,
    spec: DeviceEventSpec,
    max_duration_s: float,
    max_age_days: int | None,
    now: datetime,
) -> dict[str, Any]:
    """One event's row to insert, its times and device_ref checked (``InvalidInput``)."""
    ended_at = _device_event_times(
        spec.started_at,
        spec.ended_at,
        max_duration_s,
        now,
        camera=camera,
        max_age_days=max_age_days,
    )
    check_device_ref(spec.device_ref)
    return {
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


def _batch_rows(
    camera: Camera,
    events: Sequence[DeviceEventSpec],
    max_duration_s: float,
    max_age_days: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """The batch's rows to insert, every event checked; the first bad one refuses the
    batch and is named by its index."""
    rows: list[dict[str, Any]] = []
    for index, spec in enumerate(events):
        try:
            rows.append(_event_row(camera, spec, max_duration_s, max_age_days, now))
        except InvalidInput as exc:
            raise InvalidInput(f"Event {index}: {exc.message}", code=exc.code, index=index) from exc
    return rows


# A recorded reference: the camera and the device's own name for the event.
RefKey = tuple[uuid.UUID, str]


def _ref_key(row: dict[str, Any]) -> RefKey | None:
    ref = row["device_ref"]
    return None if ref is None else (row["camera_id"], ref)


def _known_refs(session: Session, keys: set[RefKey]) -> set[RefKey]:
    """Which of these (camera, device_ref) pairs are recorded: one query for any number
    of cameras."""
    if not keys:
        return set()
    found = session.execute(
        select(MotionEvent.camera_id, MotionEvent.device_ref).where(
            MotionEvent.camera_id.in_({camera_id for camera_id, _ in keys}),
            MotionEvent.device_ref.in_({ref for _, ref in keys}),
        )
    )
    return {(camera_id, ref) for camera_id, ref in found if ref is not None} & keys


def _fresh_rows(rows: Sequence[dict[str, Any]], known: set[RefKey]) -> list[dict[str, Any]]:
    """The rows to insert: none whose device_ref is known, one per device_ref (and camera)
    among the rows."""
    seen = set(known)
    fresh: list[dict[str, Any]] = []
    for row in rows:
        key = _ref_key(row)
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        fresh.append(row)
    return fresh


# A batch whose references keep colliding with concurrent requests gives up after this many
# tries (each try loses only to a request that recorded one of its events meanwhile).
_BATCH_TRIES = 3
_EVENTS_TABLE = cast(Table, MotionEvent.__table__)


def _insert_fresh(
    session: Session, rows: Sequence[dict[str, Any]], *, tries: int = _BATCH_TRIES
) -> list[dict[str, Any]]:
    """Insert the rows (of one camera or of many) whose device_ref is not recorded yet, in
    one statement; returns those inserted. With ``tries`` 1 a concurrent duplicate fails
    the caller's transaction (``IntegrityError``) instead, saving the savepoint's two round
    trips: for a caller that retries otherwise."""
    keys = {key for row in rows if (key := _ref_key(row)) is not None}
    fresh: list[dict[str, Any]] = []
    for attempt in range(tries):
        fresh = _fresh_rows(rows, _known_refs(session, keys))
        if not fresh:
            break
        # On the table (Core): one statement for all the rows; the ORM's bulk insert would
        # make one for the rows with a device_ref and one for those without.
        statement = insert(_EVENTS_TABLE)
        if tries == 1:
            session.execute(statement, fresh)
            break
        try:
            # On PostgreSQL a concurrent request may record one of these references between
            # the look-up and the insert; the savepoint lets the batch look again.
            with session.begin_nested():
                session.execute(statement, fresh)
            break
        except IntegrityError:
            if attempt == tries - 1:
                raise
    return fresh


def record_device_events(
    *,
    session: Session,
    camera: Camera,
    events: Sequence[DeviceEventSpec],
    max_duration_s: float,
    alert_window_s: float,
    max_age_days: int | None = None,
) -> BatchResult:
    """Record many local-first events at once (a device catching up after an outage).

    All or nothing: one bad event refuses the batch and names it. Events whose
    ``device_ref`` this camera already sent, or that repeat one in the batch, are
    skipped, so a retried batch records each event once (also when a concurrent request
    records one of them meanwhile). The batch's events are counted in the owner's alert
    for the window they fall in (``event_alerts``), not alerted one by one.
    """
    now = utcnow()
    rows = _batch_rows(camera, events, max_duration_s, max_age_days, now)
    fresh = _insert_fresh(session, rows)
    if fresh:
        event_alerts.queue_event_alert(
            session=session, camera=camera, now=now, window_s=alert_window_s
        )
    return BatchResult(created=len(fresh), duplicates=len(rows) - len(fresh))


@dataclass(frozen=True)
class GroupedEvent:
    """One device's single event, as its request handed it to a group (``ingest_groups``):
    the camera it names, the token it came with, and the event."""

    camera_id: uuid.UUID
    token: str | None
    spec: DeviceEventSpec


def _recorded_by_ref(session: Session, keys: set[RefKey]) -> dict[RefKey, RecordedEvent]:
    """The events (with their clips) recorded under these references, as answers to a
    retry (``created`` False)."""
    if not keys:
        return {}
    events = session.scalars(
        select(MotionEvent).where(
            MotionEvent.camera_id.in_({camera_id for camera_id, _ in keys}),
            MotionEvent.device_ref.in_({ref for _, ref in keys}),
        )
    )
    found: dict[RefKey, RecordedEvent] = {}
    for event in events:
        if event.device_ref is not None and (event.camera_id, event.device_ref) in keys:
            clip = session.get(Clip, event.clip_id) if event.clip_id else None
            found[(event.camera_id, event.device_ref)] = RecordedEvent(event, clip, created=False)
    return found


def record_event_group(
    *,
    session: Session,
    events: Sequence[GroupedEvent],
    max_duration_s: float,
    alert_window_s: float,
    max_age_days: int | None = None,
) -> list[tuple[Camera, RecordedEvent] | DoorstepError]:
    """Record many devices' single events in the caller's transaction, as the batch
    endpoint records one camera's: the cameras and their tokens read in one query, the
    new events in one INSERT, one alert check per camera. Each event gets its own answer,
    in order: its camera and the event recorded (``created`` False for a device_ref the
    camera sent before, in an earlier group or earlier in this one), or the error that
    refuses it alone (a wrong token is 401, a bad time 400) while the others go in."""
    now = utcnow()
    cameras = camera_registry.cameras_by_id(session, {event.camera_id for event in events})
    answers: list[tuple[Camera, dict[str, Any]] | DoorstepError] = []
    for event in events:
        try:
            camera = camera_registry.check_camera_token(cameras.get(event.camera_id), event.token)
            row = _event_row(camera, event.spec, max_duration_s, max_age_days, now)
        except DoorstepError as exc:
            answers.append(exc)
            continue
        answers.append((camera, row))
    rows = [answer[1] for answer in answers if isinstance(answer, tuple)]
    # A reference recorded meanwhile by another process fails the group, which is then
    # written event by event (``ingest_groups``): no savepoint needed here.
    inserted = {row["id"] for row in _insert_fresh(session, rows, tries=1)}
    retried = {key for row in rows if row["id"] not in inserted and (key := _ref_key(row))}
    before = _recorded_by_ref(session, retried)
    # The cameras' alert windows in the order of their ids: two groups that open windows
    # of the same cameras lock their rows in one order, and never deadlock.
    alerted = {row["camera_id"]: cameras[row["camera_id"]] for row in rows if row["id"] in inserted}
    for camera_id in sorted(alerted):
        event_alerts.queue_event_alert(
            session=session, camera=alerted[camera_id], now=now, window_s=alert_window_s
        )
    results: list[tuple[Camera, RecordedEvent] | DoorstepError] = []
    for answer in answers:
        if not isinstance(answer, tuple):
            results.append(answer)
            continue
        camera, row = answer
        if row["id"] not in inserted:
            key = _ref_key(row)
            assert key is not None  # only a repeated reference is left out
            results.append((camera, before[key]))
            continue
        results.append((camera, RecordedEvent(MotionEvent(**row), None)))
    return results
