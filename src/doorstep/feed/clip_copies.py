"""The copy of a clip that neighbours see in a post: redacted (faces, text, the camera's
privacy zones) and written without container tags, under ``posts/{post_id}/``.

A post that gets a clip is marked "processing" with the copy's key reserved, and a job
(after the commit, through the outbox) writes the copy and its thumbnail, then records
it "ready" with its manifest in one transaction, but only while the post still waits for
that very key: a clip changed or removed meanwhile leaves the copy deleted and nothing
recorded. A job run again after a crash writes the same key, so there is never a second
copy. A failure that retrying cannot mend marks the copy "failed" with the reason its
author reads; any other failure is retried by the outbox.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.cameras import inbox as camera_inbox
from doorstep.cameras import registry as camera_registry
from doorstep.cameras.models import Clip
from doorstep.errors import InvalidInput, NotFound
from doorstep.feed.models import Post
from doorstep.media import video
from doorstep.media.redaction import (
    Choices,
    failure_reason,
    release_copy,
    scaled_zones,
    throttled,
)
from doorstep.media.storage import MediaStorage, removed_on_failure
from doorstep.notify import outbox
from doorstep.notify.handlers import JobContext, LongJobContext

log = structlog.get_logger(__name__)

COPY_JOB = "feed.clip_copy"
DELETE_JOB = "feed.clip_copy_delete"

PROCESSING, READY, FAILED = "processing", "ready", "failed"
COPY_ATTEMPTS = 5
PREPARING = "Preparing the clip (faces, text and privacy zones are being hidden)."

_KEEP_ALIVE_S = 10.0


def thumbnail_key(copy_key: str) -> str:
    """The copy's thumbnail, stored next to it."""
    return copy_key.removesuffix(".mp4") + ".jpg"


def start_copy(*, session: Session, post: Post) -> None:
    """The post's clip is new or changed: drop any earlier copy, reserve a key for the new
    one and queue the job that makes it (it runs after the commit)."""
    discard_copy(session=session, post=post)
    if post.clip_id is None:
        return
    key = f"posts/{post.id}/{uuid.uuid4().hex}.mp4"
    post.clip_copy_key, post.clip_copy_status = key, PROCESSING
    session.flush()
    outbox.enqueue(
        session=session,
        kind=COPY_JOB,
        payload={"post_id": str(post.id), "clip_id": str(post.clip_id), "key": key},
        max_attempts=COPY_ATTEMPTS,
    )


def discard_copy(*, session: Session, post: Post) -> None:
    """Forget the post's copy and delete its files after the commit (a copy still being
    made is deleted by its own job, which finds its key no longer reserved)."""
    if post.clip_copy_key is not None:
        outbox.enqueue(session=session, kind=DELETE_JOB, payload={"key": post.clip_copy_key})
    post.clip_copy_key = post.clip_copy_status = post.clip_copy_redaction = None
    session.flush()


def status_message(status: str | None, redaction: dict[str, Any] | None) -> str | None:
    """What the author reads about his post's copy (its ``clip_copy_status`` and
    ``clip_copy_redaction``) while it is not ready."""
    if status == PROCESSING:
        return PREPARING
    if status == FAILED:
        reason = (redaction or {}).get("error") or "the copy could not be made"
        return f"The clip is not shown to neighbours: {reason}."
    return None


def _waiting(
    session: Session, post_id: uuid.UUID, clip_id: uuid.UUID, key: str, *, lock: bool = False
) -> Post | None:
    """The post, as committed now (and locked if ``lock``), while it still waits for this
    copy of this clip."""
    query = select(Post).where(Post.id == post_id).execution_options(populate_existing=True)
    post = session.scalar(query.with_for_update() if lock else query)
    if post is None or post.clip_id != clip_id or post.clip_copy_key != key:
        return None
    return post if post.clip_copy_status == PROCESSING else None


def _shared_clip(session: Session, post: Post) -> tuple[Clip, dict[str, Any] | None] | None:
    """The clip the post shares, as its author still keeps it, with its camera's zones."""
    author = account_service.get_user(session=session, user_id=post.author_id)
    if post.clip_id is None:
        return None
    try:
        clip = camera_inbox.get_own_clip(session=session, owner=author, clip_id=post.clip_id)
        camera = camera_registry.get_own_camera(
            session=session, owner=author, camera_id=clip.camera_id
        )
    except NotFound:
        return None
    return clip, camera.privacy_zones


@dataclass(frozen=True)
class _Source:
    """What the job reads of the post's clip in its first short transaction."""

    storage_key: str | None
    width: int
    height: int
    zones: dict[str, Any] | None


def _make_copy(
    storage: MediaStorage, source: _Source, key: str, keep_alive: Callable[[], bool]
) -> dict[str, Any]:
    """Write the copy and its thumbnail (made from the copy); the manifest."""
    if source.storage_key is None:
        raise InvalidInput("The clip's file is no longer stored.", code="clip_deleted")
    choices = Choices()
    options = choices.options(scaled_zones(source.zones, source.width, source.height))
    progress = throttled(lambda _share: keep_alive(), _KEEP_ALIVE_S)  # renews the lease
    report = release_copy(storage, source.storage_key, key, options, progress=progress)
    with removed_on_failure(storage, key), tempfile.TemporaryDirectory() as tmp:
        local = Path(tmp) / "copy.mp4"
        with local.open("wb") as out:
            for chunk in storage.open_range(key):
                out.write(chunk)
        storage.put_bytes(thumbnail_key(key), video.make_thumbnail(local), "image/jpeg")
    return {"choices": choices.as_dict(), **report.as_dict()}


def _delete_files(storage: MediaStorage, key: str) -> None:
    storage.delete(key)
    storage.delete(thumbnail_key(key))


def make_copy(ctx: LongJobContext, payload: dict[str, Any]) -> None:
    """The job (a long one: no transaction is held while the copy is made, so SQLite's
    writers are not stalled): the post's redacted copy, recorded only if the post still
    waits for it."""
    storage = ctx.services.storage
    post_id, clip_id = uuid.UUID(payload["post_id"]), uuid.UUID(payload["clip_id"])
    key = payload["key"]
    with ctx.transaction() as session:
        post = _waiting(session, post_id, clip_id, key)
        shared = _shared_clip(session, post) if post is not None else None
        source = (
            _Source(shared[0].storage_key, shared[0].width, shared[0].height, shared[1])
            if shared is not None
            else None
        )
    if source is None:
        _delete_files(storage, key)
        return
    try:
        manifest = _make_copy(storage, source, key, ctx.keep_alive)
    except Exception as exc:
        reason = failure_reason(exc, last_try=ctx.attempt >= COPY_ATTEMPTS)
        if reason is None:
            raise  # the outbox tries again later
        _delete_files(storage, key)
        log.warning("feed.clip_copy_failed", post_id=str(post_id), error=repr(exc))
        with ctx.transaction() as session:
            _record_failure(session, post_id, clip_id, key, reason)
        return
    with ctx.transaction() as session:
        post = _waiting(session, post_id, clip_id, key, lock=True)
        if post is None:
            _delete_files(storage, key)
            return
        post.clip_copy_status, post.clip_copy_redaction = READY, manifest
        session.flush()


def _record_failure(
    session: Session, post_id: uuid.UUID, clip_id: uuid.UUID, key: str, reason: str
) -> None:
    post = _waiting(session, post_id, clip_id, key, lock=True)
    if post is not None:
        post.clip_copy_key, post.clip_copy_status = None, FAILED
        post.clip_copy_redaction = {"error": reason}
        session.flush()


def delete_copy(ctx: JobContext, payload: dict[str, Any]) -> None:
    """The job: delete a copy no post records any more."""
    _delete_files(ctx.services.storage, payload["key"])


def sweep_orphans(*, session: Session) -> int:
    """Discard the copies of posts whose clip its owner deleted (or retention removed)."""
    posts = session.scalars(
        select(Post)
        .outerjoin(Clip, Clip.id == Post.clip_id)
        .where(
            Post.clip_copy_key.is_not(None),
            or_(Post.clip_id.is_(None), Clip.id.is_(None), Clip.deleted_at.is_not(None)),
        )
        .limit(500)
    ).all()
    for post in posts:
        discard_copy(session=session, post=post)
    return len(posts)
