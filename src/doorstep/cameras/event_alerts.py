"""The owner's alerts for local-first events, one per burst rather than one per event.

A camera's first event opens a window (``event_alert_window_s``); the event's transaction
moves ``cameras.alerted_until`` to the window's end and queues one outbox job, due a
little after it. Events inside the window write nothing for their alert. The job counts
the camera's events in the window that interest the owner and sends one alert: the event
itself when it is alone, else "3 motion events at Front door". The job is written with
the event that opened the window, so a crash after that commit loses no alert.

Windows follow one another without a gap or an overlap: each covers from the end of the
one before (at most ``RACE_MARGIN`` back) to its own end, so an event whose transaction
lost the race to open a window is counted in the window that won.

Other domains: the alert goes through ``notify.service``; no query here reads another
domain's table.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from doorstep.cameras import device_input
from doorstep.cameras.models import Camera, MotionEvent
from doorstep.notify import outbox
from doorstep.notify import service as notify_service
from doorstep.notify.handlers import JobContext

EVENT_ALERT_JOB = "cameras.event_alert"
# The job runs this long after its window closes, so that an event stamped just before
# the end whose transaction commits a moment later is counted in it.
COMMIT_GRACE = timedelta(seconds=5)
# How far back a new window reaches when the camera was quiet: only events whose
# transaction raced the one opening the window can be there.
RACE_MARGIN = timedelta(seconds=60)
# Tries to open a window against concurrent events of the same camera.
_TRIES = 3


def queue_event_alert(*, session: Session, camera: Camera, now: datetime, window_s: float) -> None:
    """Make sure an alert will count the event this camera recorded at ``now`` (its
    ``created_at``): nothing to write when the open window covers it; else open the next
    window and queue its alert, in the caller's transaction."""
    until = camera.alerted_until
    for _ in range(_TRIES):
        if until is not None and until > now:
            return
        since = max(until or now - RACE_MARGIN, now - RACE_MARGIN)
        closes = now + timedelta(seconds=window_s)
        # Compare-and-set: of two events opening a window at once, one wins; the other
        # reads the winner's end, which covers it (the winner's window reaches back).
        opened = session.execute(
            update(Camera)
            .where(
                Camera.id == camera.id,
                or_(Camera.alerted_until.is_(None), Camera.alerted_until <= now),
            )
            .values(alerted_until=closes)
            .execution_options(synchronize_session=False)
        )
        if getattr(opened, "rowcount", 0):
            set_committed_value(camera, "alerted_until", closes)
            outbox.enqueue(
                session=session,
                kind=EVENT_ALERT_JOB,
                payload={
                    "camera_id": str(camera.id),
                    "since": since.isoformat(),
                    "until": closes.isoformat(),
                },
                delay_s=(closes - now + COMMIT_GRACE).total_seconds(),
            )
            return
        until = session.scalar(select(Camera.alerted_until).where(Camera.id == camera.id))
    raise RuntimeError(f"could not open an alert window for camera {camera.id}")


def _window_events(
    session: Session, camera: Camera, since: datetime, until: datetime, kinds: set[str]
) -> list[MotionEvent]:
    events = session.scalars(
        select(MotionEvent)
        .where(
            MotionEvent.camera_id == camera.id,
            MotionEvent.on_device.is_(True),
            MotionEvent.created_at >= since,
            MotionEvent.created_at < until,
        )
        .order_by(MotionEvent.started_at)
    )
    return [e for e in events if e.kind.value in kinds]


def send_event_alert(
    *,
    session: Session,
    camera_id: uuid.UUID,
    since: datetime,
    until: datetime,
    instance_zone: str = "UTC",
) -> None:
    """Alert the owner once for the camera's local-first events recorded in
    [``since``, ``until``) whose kinds he wants: the event itself when it is alone, else
    their count. Nothing when there are none (or the camera is gone)."""
    camera = session.get(Camera, camera_id)
    if camera is None:
        return
    kinds = set(notify_service.alert_kinds(session=session, user_id=camera.owner_id))
    events = _window_events(session, camera, since, until, kinds)
    if not events:
        return
    if len(events) == 1:  # alone: the same alert as a clip's, linking to the event
        device_input.alert_owner(
            session=session, camera=camera, event=events[0], instance_zone=instance_zone
        )
        return
    counts = Counter(e.kind.value for e in events)
    what = f"{len(events)} {next(iter(counts)) + ' ' if len(counts) == 1 else ''}events"
    parts = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
    zone = device_input.owner_zone(session, camera, instance_zone)
    first, last = events[0].started_at.astimezone(zone), events[-1].started_at.astimezone(zone)
    notify_service.alert_user(
        session=session,
        user_id=camera.owner_id,
        topic="camera_event",
        title=f"{what} at {camera.name}",
        body=f"{camera.name} recorded {parts} between {first:%Y-%m-%d %H:%M:%S} and "
        f"{last:%H:%M:%S %Z}, kept on your device.",
        link=f"/timeline?camera={camera.id}",
    )


def run_event_alert(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The outbox handler of ``EVENT_ALERT_JOB``."""
    send_event_alert(
        session=ctx.session,
        camera_id=uuid.UUID(payload["camera_id"]),
        since=datetime.fromisoformat(payload["since"]),
        until=datetime.fromisoformat(payload["until"]),
        instance_zone=ctx.services.settings.time_zone,
    )
