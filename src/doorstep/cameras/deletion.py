"""Clips leave storage, not just the view: the owner's deletes and the retention sweep.

Files are deleted once the transaction that deletes their clip commits
(``db.after_commit``), never before: a rollback leaves no row naming a removed file.
A deleted clip keeps its storage keys until a sweep sees its files gone, so a delete
that failed after the commit (storage unreachable, the process stopped) is done again
by the next sweep. A camera's deletion removes its clips' rows: a file whose delete
fails after that commit is logged and left behind.

Other domains: the owner arrives as an accounts ``User`` (its id and nothing more is
read); no query here reads another domain's table.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from functools import partial

import structlog
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.accounts.models import User
from doorstep.accounts.service import actor_of
from doorstep.audit import Actor
from doorstep.cameras.inbox import get_own_clip, get_own_event
from doorstep.cameras.models import Camera, Clip, MotionEvent
from doorstep.db import after_commit, utcnow
from doorstep.media.storage import MediaStorage

log = structlog.get_logger(__name__)


def _clip_keys(clip: Clip) -> list[str]:
    return [key for key in (clip.storage_key, clip.thumbnail_key) if key]


def _delete_file(storage: MediaStorage, clip_id: uuid.UUID, key: str) -> None:
    try:
        storage.delete(key)
    except Exception as exc:  # a later sweep deletes it again; the others go on
        log.warning("clip.file_delete_failed", clip_id=str(clip_id), key=key, error=repr(exc))


def delete_files_after_commit(session: Session, storage: MediaStorage, clip: Clip) -> None:
    """Delete a clip's video and thumbnail from storage once this transaction commits;
    nothing is deleted if it rolls back."""
    for key in _clip_keys(clip):
        after_commit(session, partial(_delete_file, storage, clip.id, key))


def _erase_clip(session: Session, storage: MediaStorage, clip: Clip, reason: str) -> None:
    delete_files_after_commit(session, storage, clip)
    clip.deleted_at = utcnow()
    clip.deleted_reason = reason
    clip.kept_at = None
    session.execute(delete(MotionEvent).where(MotionEvent.clip_id == clip.id))


def delete_clip(
    *, session: Session, storage: MediaStorage, owner: User, clip_id: uuid.UUID
) -> Clip:
    """Delete one of the owner's clips now: its file leaves storage once this transaction
    commits, not just the view. Audited."""
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


def _finish_file_deletes(session: Session, storage: MediaStorage, batch: int) -> None:
    """Deleted clips whose keys remain: forget the keys of those whose files are gone,
    delete again (after the commit) the files still there."""
    pending = session.scalars(
        select(Clip)
        .where(
            Clip.deleted_at.is_not(None),
            or_(Clip.storage_key.is_not(None), Clip.thumbnail_key.is_not(None)),
        )
        .limit(batch)
    ).all()
    for clip in pending:
        try:
            remaining = [key for key in _clip_keys(clip) if storage.exists(key)]
        except Exception as exc:  # one unreachable file must not stall every deletion
            log.warning("retention.delete_failed", clip_id=str(clip.id), error=repr(exc))
            continue
        if remaining:
            delete_files_after_commit(session, storage, clip)
        else:
            clip.storage_key = clip.thumbnail_key = None


def sweep_retention(*, session: Session, storage: MediaStorage, batch: int = 500) -> int:
    """Delete clips (files and all) and local-first events older than their camera's
    retention, except the clips their owner keeps (``keeps``); the files leave storage
    once this transaction commits. Also finishes the file deletes of clips deleted before
    (see the module's docstring).

    Returns how many clips were deleted. Runs in batches; call again until it returns 0.
    """
    _finish_file_deletes(session, storage, batch)
    now = utcnow()
    erased = 0
    for days in session.scalars(select(Camera.retention_days).distinct()).all():
        cutoff = now - timedelta(days=days)
        clips = session.scalars(
            select(Clip)
            .join(Camera, Camera.id == Clip.camera_id)
            .where(
                Camera.retention_days == days,
                # The conditions of ix_clips_retention_due, so that it serves this query.
                Clip.deleted_at.is_(None),
                Clip.kept_at.is_(None),
                Clip.started_at < cutoff,
            )
            .limit(batch)
        ).all()
        for clip in clips:
            _erase_clip(session, storage, clip, "retention")
        erased += len(clips)
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
