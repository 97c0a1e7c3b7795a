"""The redacted copy of shared footage: what the agency receives instead of the clip.

A share (or a device's upload of a local-first clip) stages the original in storage and
marks the evidence ``redacting``; the ``footage.redaction`` job, a long job of the
worker, writes the redacted copy (faces, text, the camera's privacy zones, the owner's
boxes and removals; no tags) and only then makes the evidence ``available``: the share
counts as made when the copy exists. A failure that retrying cannot mend marks it
``redaction_failed``, shares nothing and tells the owner why. The staged original is
removed once the copy is recorded (the owner's own clip stays in his account).

The manifest of what was done is stored with the evidence (``Evidence.redaction``) and
goes into export bundles, where ``doorstep evidence verify`` checks it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.cameras.models import Camera, MotionEvent
from doorstep.db import after_commit, undo_on_rollback, utcnow
from doorstep.footage.models import Evidence, EvidenceStatus, Recipient, RecipientStatus
from doorstep.media.redaction import (
    Choices,
    RedactionReport,
    failure_reason,
    release_copy,
    throttled,
)
from doorstep.media.redaction import scaled_zones as zones_in_pixels
from doorstep.media.storage import MediaStorage
from doorstep.notify import outbox
from doorstep.notify import service as notify_service
from doorstep.notify.handlers import LongJobContext

log = structlog.get_logger(__name__)

REDACTION_JOB = "footage.redaction"
MANIFEST_FORMAT = "doorstep-redaction/1"
MAX_TRIES = 3
"""A failure that is not the clip's own (storage, database) is retried this many times
before the owner is told it failed."""
_PROGRESS_EVERY_S = 1.0


def staged_key(evidence_id: uuid.UUID) -> str:
    return f"redaction/{evidence_id}/original.mp4"


def preview_prefix(owner_id: uuid.UUID, event_id: uuid.UUID) -> str:
    """Where the owner's previews of one clip are kept (``footage.previews``)."""
    return f"previews/{owner_id}/{event_id}/"


def discard_previews(storage: MediaStorage, owner_id: uuid.UUID, event_id: uuid.UUID) -> None:
    """Remove the owner's previews of a clip (once he has shared it, they are done)."""
    for key in storage.keys(prefix=preview_prefix(owner_id, event_id)):
        storage.delete(key)


def copy_key(item: Evidence) -> str:
    """One key per evidence: a job run twice writes the same bytes to the same place."""
    return f"evidence/{item.request_id}/{item.id}.mp4"


def queue_redaction(
    session: Session,
    storage: MediaStorage,
    item: Evidence,
    choices: Choices,
    *,
    source_key: str,
    copy_source: bool,
) -> None:
    """Mark ``item`` as being redacted and queue the job. A stored clip's file is copied
    to a key of the item's own (``copy_source``), so the clip's retention changes
    nothing meanwhile, and the copy goes if the transaction rolls back; a device's
    upload is already under a key of its own."""
    staged = source_key
    if copy_source:
        staged = staged_key(item.id)
        storage.copy(source_key, staged)
        undo_on_rollback(session, partial(storage.delete, staged))
    item.status = EvidenceStatus.redacting
    item.redaction_request = {**choices.as_dict(), "staged_key": staged}
    item.redaction_progress, item.redaction_error = 0.0, None
    session.flush()
    outbox.enqueue(session=session, kind=REDACTION_JOB, payload={"evidence_id": str(item.id)})


def staged_of(item: Evidence) -> str | None:
    """Where the original waits for its redaction, if anywhere."""
    return (item.redaction_request or {}).get("staged_key")


@dataclass(frozen=True)
class _Work:
    """What the job reads in its first short transaction."""

    evidence_id: uuid.UUID
    owner_id: uuid.UUID
    staged_key: str
    dst_key: str
    choices: Choices
    zones: list[list[tuple[float, float]]]


def _work_of(session: Session, evidence_id: uuid.UUID) -> _Work | None:
    row = session.execute(
        select(Evidence, Recipient.owner_id, Camera.privacy_zones)
        .join(Recipient, Recipient.id == Evidence.recipient_id)
        .outerjoin(MotionEvent, MotionEvent.id == Evidence.source_event_id)
        .outerjoin(Camera, Camera.id == MotionEvent.camera_id)
        .where(Evidence.id == evidence_id)
    ).first()
    if row is None or row[0].status != EvidenceStatus.redacting:
        return None  # withdrawn, or already done by an earlier run
    item, owner_id, stored_zones = row
    width, height = item.width or 0, item.height or 0
    return _Work(
        evidence_id=item.id,
        owner_id=owner_id,
        staged_key=staged_of(item) or staged_key(item.id),
        dst_key=copy_key(item),
        choices=Choices.from_dict(item.redaction_request),
        zones=zones_in_pixels(stored_zones, width, height) if width and height else [],
    )


def manifest_of(report: RedactionReport, choices: Choices) -> dict[str, Any]:
    """What the evidence records about its copy: both hashes, the detectors with their
    versions and settings, the zones, the owner's choices and edits, what was hidden."""
    counts = report.frame_counts
    return {
        "format": MANIFEST_FORMAT,
        "original_sha256": report.original_sha256,
        "redacted_sha256": report.redacted_sha256,
        "width": report.width,
        "height": report.height,
        "frames": report.frames,
        "fps": report.fps,
        "choices": {k: v for k, v in choices.as_dict().items() if not isinstance(v, list)},
        "detectors": report.detectors,
        "settings": report.settings,
        "zones": report.zones,
        "manual_boxes": report.manual_boxes,
        "removals": report.removals,
        "tracks": report.tracks,
        "hidden": {
            "face_tracks": sum(1 for t in report.tracks if t["kind"] == "face"),
            "text_tracks": sum(1 for t in report.tracks if t["kind"] == "text"),
            "zones": len(report.zones),
            "manual_boxes": len(report.manual_boxes),
            "frames_with_faces": sum(1 for c in counts if c[0]),
            "frames_with_text": sum(1 for c in counts if c[1]),
        },
    }


def _progress_writer(ctx: LongJobContext, evidence_id: uuid.UUID) -> Callable[[float], None]:
    """Records the job's progress on the share and renews its lease."""

    def write(share: float) -> None:
        with ctx.transaction() as session:
            session.execute(
                update(Evidence)
                .where(Evidence.id == evidence_id, Evidence.status == EvidenceStatus.redacting)
                .values(redaction_progress=round(min(share, 0.99), 3))
            )
        ctx.keep_alive()

    return write


def run_redaction(ctx: LongJobContext, payload: dict[str, Any]) -> None:
    """The ``footage.redaction`` job: make the copy, then record it (or the failure)."""
    storage = ctx.services.storage
    evidence_id = uuid.UUID(payload["evidence_id"])
    with ctx.transaction() as session:
        work = _work_of(session, evidence_id)
    if work is None:
        return
    try:
        report = release_copy(
            storage,
            work.staged_key,
            work.dst_key,
            work.choices.options(work.zones),
            progress=throttled(_progress_writer(ctx, evidence_id), _PROGRESS_EVERY_S),
        )
    except Exception as exc:
        reason = failure_reason(exc, last_try=ctx.attempt >= MAX_TRIES)
        if reason is None:
            raise  # the outbox retries it
        log.warning("footage.redaction_failed", evidence_id=str(evidence_id), error=repr(exc))
        _fail(ctx, work, reason)
        return
    with ctx.transaction() as session:
        _record(session, storage, work, report)


def _locked(session: Session, evidence_id: uuid.UUID) -> Evidence | None:
    return session.scalar(
        select(Evidence)
        .where(Evidence.id == evidence_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _record(session: Session, storage: MediaStorage, work: _Work, report: RedactionReport) -> None:
    """The copy exists: the evidence becomes the agency's (unless withdrawn meanwhile, or
    recorded by another run), and the share counts."""
    item = _locked(session, work.evidence_id)
    if item is None or item.status != EvidenceStatus.redacting:
        if item is None or item.storage_key != work.dst_key:
            after_commit(session, partial(storage.delete, work.dst_key))
        return
    now = utcnow()
    item.storage_key = work.dst_key
    item.sha256, item.original_sha256 = report.redacted_sha256, report.original_sha256
    item.size_bytes = storage.size(work.dst_key)
    item.redaction = manifest_of(report, work.choices)
    item.redaction_progress = 1.0
    item.status, item.uploaded_at = EvidenceStatus.available, now
    recipient = session.get(Recipient, item.recipient_id)
    if recipient is not None and recipient.status != RecipientStatus.shared:
        recipient.status, recipient.answered_at = RecipientStatus.shared, now
        recipient.next_reminder_at = None
    audit.record(
        session=session,
        actor=audit.Actor(id=work.owner_id, label="redaction"),
        action=audit.AuditAction.EVIDENCE_REDACTED,
        subject_type="evidence",
        subject_id=item.id,
        details={
            "sha256": item.sha256,
            "original_sha256": item.original_sha256,
            "unredacted": work.choices.unredacted,
        },
    )
    after_commit(session, partial(storage.delete, work.staged_key))
    session.flush()


def _fail(ctx: LongJobContext, work: _Work, reason: str) -> None:
    """Nothing is shared: the evidence is marked failed, the staged original goes, the
    owner is told why. An answer that rested on this copy alone is his to give again."""
    storage = ctx.services.storage
    log.warning("footage.redaction_failed", evidence_id=str(work.evidence_id), reason=reason)
    with ctx.transaction() as session:
        item = _locked(session, work.evidence_id)
        if item is None or item.status != EvidenceStatus.redacting:
            return
        item.status, item.redaction_error = EvidenceStatus.redaction_failed, reason[:500]
        after_commit(session, partial(storage.delete, work.staged_key))
        after_commit(session, partial(storage.delete, work.dst_key))
        notify_service.alert_users(
            session=session,
            alerts=[
                notify_service.Alert(
                    user_id=work.owner_id,
                    topic="footage_request",
                    title="A clip you shared could not be prepared",
                    body=f"Nothing was sent to the agency: {reason}. You can share it again.",
                    link=f"/requests/{item.request_id}/answer",
                )
            ],
        )
        session.flush()


def check_manifest(entry: dict[str, Any], file_sha256: str) -> list[str]:
    """What is wrong with one bundle entry's redaction manifest, offline: it must name
    the file's own hash as the redacted copy's and the entry's original hash as the
    original's, and every detector with its package version and model hash."""
    path = entry.get("path", "?")
    manifest = entry.get("redaction")
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return [f"{path}: no redaction manifest"]
    problems: list[str] = []
    if manifest.get("redacted_sha256") != file_sha256:
        problems.append(f"{path}: the redaction manifest names another redacted copy")
    if manifest.get("redacted_sha256") != entry.get("sha256"):
        problems.append(f"{path}: the redacted copy's SHA-256 differs from the manifest's")
    original = manifest.get("original_sha256")
    if not original or original != entry.get("original_sha256"):
        problems.append(f"{path}: the original's SHA-256 differs from the manifest's")
    choices = manifest.get("choices") or {}
    detectors = manifest.get("detectors")
    wanted = [k for k in ("faces", "text") if choices.get(k) and not choices.get("unredacted")]
    if not isinstance(detectors, list) or len(detectors) < len(wanted):
        problems.append(f"{path}: the detectors used are not all named")
    else:
        for detector in detectors:
            if not (detector.get("package_version") and detector.get("model_sha256")):
                problems.append(f"{path}: a detector is named without its version or model")
    return problems
