"""Device uploads: a clip an owner shared from an event his device kept (local-first)
is sent by the device on consent, checked, stored, and recorded as evidence.

The slow part (decoding, hashing, storing) runs outside any transaction; the write
transaction that records it claims the stored file first, so the file goes whatever
step refuses or fails. Reads the cameras' events of the device for speed (one join),
as a read model of the cameras domain.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.cameras import clips as camera_clips
from doorstep.cameras.models import Camera, MotionEvent
from doorstep.db import undo_on_rollback, utcnow
from doorstep.errors import NotFound
from doorstep.footage import redaction
from doorstep.footage.models import Evidence, EvidenceStatus
from doorstep.media.redaction import Choices
from doorstep.media.storage import MediaStorage, removed_on_failure
from doorstep.media.video import ClipLimits, VideoProbe, probe_clip


def pending_uploads(*, session: Session, camera: Camera) -> list[tuple[Evidence, MotionEvent]]:
    """What the owner shared from this device's local-first events and it has not sent yet."""
    rows = session.execute(
        select(Evidence, MotionEvent)
        .join(MotionEvent, MotionEvent.id == Evidence.source_event_id)
        .where(MotionEvent.camera_id == camera.id, Evidence.status == EvidenceStatus.pending_upload)
        .order_by(Evidence.shared_at)
    ).all()
    return [(r[0], r[1]) for r in rows]


def _not_pending() -> NotFound:
    return NotFound("No pending upload with this id for this camera.", code="upload_not_pending")


def check_pending_upload(*, session: Session, camera: Camera, evidence_id: uuid.UUID) -> Evidence:
    """The shared item this device is asked to send, or 404 (another camera's, not shared,
    withdrawn, already sent). Only reads: fit for a read-only transaction."""
    for item, _event in pending_uploads(session=session, camera=camera):
        if item.id == evidence_id:
            return item
    raise _not_pending()


@dataclass(frozen=True)
class StoredUpload:
    """A device's clip that passed every check and is in storage, not yet recorded as
    evidence: :func:`record_upload` records it; :func:`claim_upload` ties its removal to
    a rollback."""

    evidence_id: uuid.UUID
    storage_key: str
    sha256: str
    size_bytes: int
    probe: VideoProbe


def store_upload(
    *, storage: MediaStorage, limits: ClipLimits, item: Evidence, file_path: Path
) -> StoredUpload:
    """Check the clip with PyAV, hash it and store it. The slow part of a device upload, so
    it touches no database: run it between transactions, off the event loop. A refusal or
    a failure leaves nothing in storage."""
    probe = probe_clip(file_path, limits)
    # A key of its own per attempt: a retry racing its original must not overwrite, or
    # on losing delete, the file the other one recorded.
    stored = StoredUpload(
        evidence_id=item.id,
        storage_key=f"evidence/{item.request_id}/{item.id}-{uuid.uuid4().hex[:12]}.mp4",
        sha256=camera_clips.sha256_file(file_path),
        size_bytes=file_path.stat().st_size,
        probe=probe,
    )
    with removed_on_failure(storage, stored.storage_key):
        storage.put_file(stored.storage_key, file_path, "video/mp4")
    return stored


def discard_upload(*, storage: MediaStorage, stored: StoredUpload) -> None:
    """Remove a stored upload's file (one that will not be recorded)."""
    storage.delete(stored.storage_key)


def claim_upload(*, session: Session, storage: MediaStorage, stored: StoredUpload) -> None:
    """Tie a stored upload's file to this transaction: it is removed if the transaction
    rolls back, whatever step fails (the commit included). Call it first in the
    transaction that records the upload, before any step that can refuse it."""
    undo_on_rollback(session, partial(discard_upload, storage=storage, stored=stored))


def record_upload(
    *, session: Session, storage: MediaStorage, camera: Camera, stored: StoredUpload
) -> Evidence:
    """Make a stored upload the evidence the owner shared: the row is locked and must still
    be pending, so a share the owner withdrew meanwhile (or a retry that lost the race)
    never becomes evidence. Only the lock and the update run here, so the write
    transaction stays short. Audited. The transaction has claimed the upload
    (:func:`claim_upload`), so a refusal here removes its file with the rollback."""
    check_pending_upload(session=session, camera=camera, evidence_id=stored.evidence_id)
    item = session.scalar(
        select(Evidence)
        .where(Evidence.id == stored.evidence_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if item is None or item.status != EvidenceStatus.pending_upload:
        raise _not_pending()
    probe = stored.probe
    item.original_sha256 = stored.sha256
    item.duration_s, item.width, item.height = probe.duration_s, probe.width, probe.height
    item.uploaded_at = utcnow()
    # The agency gets the redacted copy only, made by the worker from this upload.
    redaction.queue_redaction(
        session,
        storage,
        item,
        Choices.from_dict(item.redaction_request),
        source_key=stored.storage_key,
        copy_source=False,
    )
    audit.record(
        session=session,
        actor=audit.Actor(id=camera.owner_id, label=f"camera:{camera.id}"),
        action=audit.AuditAction.EVIDENCE_UPLOADED,
        subject_type="evidence",
        subject_id=item.id,
        details={"sha256": stored.sha256},
    )
    session.flush()
    return item
