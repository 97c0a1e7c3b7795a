"""Clip ingest: a clip is checked, stored, then recorded with its event.

An upload runs :func:`check_clip` (a read-only transaction), :func:`store_clip` (no
transaction: the slow decoding) and :func:`record_clip` (one short write transaction)
in turn; :func:`ingest_clip` does all three in the caller's transaction.

Stored files are cleaned up by one mechanism: the write transaction owns them from its
first statement (:func:`discard_on_rollback`), so they go if anything in it fails or it
rolls back, and a duplicate's files go with its commit.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from doorstep.cameras.device_input import (
    RecordedEvent,
    alert_owner,
    check_age,
    check_device_ref,
    check_start,
    find_device_event,
    insert_event,
)
from doorstep.cameras.models import Camera, Clip, MotionEvent
from doorstep.cameras.zones import ingest_zones
from doorstep.db import after_commit, undo_on_rollback, utcnow
from doorstep.media.kinds import EventKind
from doorstep.media.redaction import RedactionOptions, redact_file, scaled_zones
from doorstep.media.storage import MediaStorage, removed_on_failure
from doorstep.media.video import ClipLimits, VideoProbe, make_thumbnail, probe_clip


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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


def _filled_copy(file_path: Path, probe: VideoProbe, zones: dict[str, Any], tmp: Path) -> Path:
    """The clip with the camera's zones filled solid (no detection, no tags)."""
    filled = tmp / "filled.mp4"
    polygons = scaled_zones(zones, probe.width, probe.height)
    redact_file(file_path, filled, RedactionOptions(faces=False, text=False, zones=polygons))
    return filled


def store_clip(
    *,
    storage: MediaStorage,
    limits: ClipLimits,
    camera_id: uuid.UUID,
    file_path: Path,
    zones: dict[str, Any] | None = None,
) -> StoredClip:
    """Check a clip with PyAV (every frame decoded), hash it, make its thumbnail and store
    both files. The slow part of an upload, so it touches no database: run it between
    transactions, off the event loop. A refusal or a failure leaves nothing in storage.

    With ``zones`` (a camera's stored privacy zones, ``cameras.zones.ingest_zones``) the
    zones are filled first: what is hashed, thumbnailed and stored is the filled copy, and
    the original is never stored."""
    probe = probe_clip(file_path, limits)
    if zones is None:
        return _store_checked(storage, camera_id, file_path, probe)
    with tempfile.TemporaryDirectory(prefix="doorstep-zones-") as tmp:
        filled = _filled_copy(file_path, probe, zones, Path(tmp))
        return _store_checked(storage, camera_id, filled, probe_clip(filled, limits))


def _store_checked(
    storage: MediaStorage, camera_id: uuid.UUID, file_path: Path, probe: VideoProbe
) -> StoredClip:
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
    with removed_on_failure(storage, stored.storage_key, stored.thumbnail_key):
        storage.put_file(stored.storage_key, file_path, "video/mp4")
        storage.put_bytes(stored.thumbnail_key, thumbnail, "image/jpeg")
    return stored


def discard_clip(*, storage: MediaStorage, stored: StoredClip) -> None:
    """Remove a stored clip's files (a clip that will not be recorded)."""
    for key in (stored.storage_key, stored.thumbnail_key):
        storage.delete(key)


def discard_on_rollback(*, session: Session, storage: MediaStorage, stored: StoredClip) -> None:
    """Give a stored clip's files to this transaction: they are removed if it rolls back
    (a refusal, an error, the commit failing). Call it first in the transaction that
    records the clip, before anything in it can fail."""
    undo_on_rollback(session, partial(discard_clip, storage=storage, stored=stored))


def check_clip(
    *,
    session: Session,
    camera: Camera,
    started_at: datetime,
    device_ref: str | None,
    max_age_days: int | None = None,
) -> RecordedEvent | None:
    """The checks a clip passes before its file is looked at: a start time neither in the
    future nor older than the camera keeps clips, a valid device_ref. Returns the event
    already recorded under this device_ref (a retry, ``created`` False), else None.
    Only reads: fit for a read-only transaction."""
    now = utcnow()
    check_start(started_at, now)
    check_age(started_at, now, camera=camera, max_age_days=max_age_days, what="clip")
    check_device_ref(device_ref)
    return find_device_event(session=session, camera=camera, device_ref=device_ref)


def _clip_and_event(
    camera: Camera,
    stored: StoredClip,
    started_at: datetime,
    kind: EventKind,
    device_ref: str | None,
) -> tuple[Clip, MotionEvent]:
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
    return clip, event


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
    instance_zone: str = "UTC",
) -> RecordedEvent:
    """Record a stored clip with its event and alert the owner: only the checks of
    :func:`check_clip` (again, for what changed meanwhile) and inserts, so the write
    transaction stays short.

    The transaction owns the stored files already (:func:`discard_on_rollback`): they
    go if it rolls back. When the device_ref turns out to be recorded already, the
    earlier event is returned (``created`` False) and this clip's files go once the
    transaction commits."""
    existing = check_clip(
        session=session,
        camera=camera,
        started_at=started_at,
        device_ref=device_ref,
        max_age_days=max_age_days,
    )
    if existing is None:
        clip, event = _clip_and_event(camera, stored, started_at, kind, device_ref)
        recorded = insert_event(session, camera, event, clip=clip)
        if recorded.created:
            alert_owner(session=session, camera=camera, event=event, instance_zone=instance_zone)
            return recorded
        existing = recorded
    # No row names these files: a rollback removes them (its undo), a commit here.
    after_commit(session, partial(discard_clip, storage=storage, stored=stored))
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
    instance_zone: str = "UTC",
) -> RecordedEvent:
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
    stored = store_clip(
        storage=storage,
        limits=limits,
        camera_id=camera.id,
        file_path=file_path,
        zones=ingest_zones(camera),
    )
    discard_on_rollback(session=session, storage=storage, stored=stored)
    return record_clip(
        session=session,
        storage=storage,
        camera=camera,
        stored=stored,
        started_at=started_at,
        kind=kind,
        device_ref=device_ref,
        max_age_days=max_age_days,
        instance_zone=instance_zone,
    )
