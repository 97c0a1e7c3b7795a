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
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from doorstep.cameras import event_alerts
from doorstep.cameras.device_input import (
    CLOCK_SKEW,
    RecordedEvent,
    check_age,
    check_device_ref,
    check_start,
    insert_device_event,
)
from doorstep.cameras.models import Camera, MotionEvent
from doorstep.db import new_id, utcnow
from doorstep.errors import InvalidInput
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
            ended_at = _device_event_times(
                spec.started_at,
                spec.ended_at,
                max_duration_s,
                now,
                camera=camera,
                max_age_days=max_age_days,
            )
            check_device_ref(spec.device_ref)
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
    return rows


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


def _insert_fresh(
    session: Session, camera: Camera, rows: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Insert the rows whose device_ref is not recorded yet; returns those inserted."""
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
    fresh = _insert_fresh(session, camera, rows)
    if fresh:
        event_alerts.queue_event_alert(
            session=session, camera=camera, now=now, window_s=alert_window_s
        )
    return BatchResult(created=len(fresh), duplicates=len(rows) - len(fresh))
