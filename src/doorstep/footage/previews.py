"""Previews of a redacted copy, for the owner alone, before he shares a clip.

The owner picks what to hide (faces, text, his privacy zones, boxes of his own, false
detections taken back); the worker writes the copy exactly as a share would
(``footage.preview``, a long job), and the page shows it beside the original with the
tracks it found, so he can remove one or add a box and look again. A preview is kept in
storage under the owner's and the event's ids, with a small JSON state beside it
(choices, progress, what was found); a new preview of the same clip replaces the others.
Nothing here reaches an agency: sharing makes its own copy through ``footage.redaction``.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from doorstep.accounts.models import User
from doorstep.errors import InvalidInput, NotFound
from doorstep.footage import answers as answer_service
from doorstep.footage.redaction import discard_previews, manifest_of, preview_prefix
from doorstep.media.redaction import (
    Choices,
    failure_reason,
    release_copy,
    scaled_zones,
    throttled,
)
from doorstep.media.storage import MediaStorage
from doorstep.notify import outbox
from doorstep.notify.handlers import LongJobContext

PREVIEW_JOB = "footage.preview"
PREVIEW_TRIES = 3
_PROGRESS_EVERY_S = 1.0


def digest_of(choices: Choices) -> str:
    """The name of a preview: the same choices give the same preview."""
    body = json.dumps(choices.as_dict(), sort_keys=True).encode()
    return hashlib.sha256(body).hexdigest()[:20]


_DIGEST = re.compile(r"[0-9a-f]{20}")


def is_digest(value: str) -> bool:
    """Whether ``value`` has the form of a preview's name."""
    return _DIGEST.fullmatch(value) is not None


def checked_digest(value: str) -> str:
    """A preview's name as a client sent it, or 404."""
    if not is_digest(value):
        raise NotFound("No such preview.", code="preview_not_found")
    return value


def video_key(owner_id: uuid.UUID, event_id: uuid.UUID, digest: str) -> str:
    return f"{preview_prefix(owner_id, event_id)}{digest}.mp4"


def _state_key(owner_id: uuid.UUID, event_id: uuid.UUID, digest: str) -> str:
    return f"{preview_prefix(owner_id, event_id)}{digest}.json"


@dataclass(frozen=True)
class Preview:
    """One preview as the page shows it."""

    digest: str
    choices: Choices
    progress: float
    error: str | None
    manifest: dict[str, Any] | None

    @property
    def ready(self) -> bool:
        return self.manifest is not None


def _write_state(storage: MediaStorage, key: str, state: dict[str, Any]) -> None:
    storage.put_bytes(key, json.dumps(state).encode(), "application/json")


def request_preview(
    *,
    session: Any,
    storage: MediaStorage,
    owner: User,
    request_id: uuid.UUID,
    event_id: uuid.UUID,
    choices: Choices,
) -> str:
    """Queue the preview of one of the owner's clips in the request's window (404 for any
    other clip) with ``choices``; answers its digest. One already made is reused."""
    found = answer_service.get_owner_request(session=session, owner=owner, request_id=request_id)
    rows = answer_service.events_in_window(session=session, owner=owner, found=found)
    row = next((r for r in rows if r[0].id == event_id), None)
    if row is None:
        raise NotFound("No such clip in this request's window.", code="clip_not_eligible")
    _event, camera, clip = row
    if clip is None or clip.deleted_at is not None or not clip.storage_key:
        raise InvalidInput(
            "This clip is on your device: it is redacted when your device sends it.",
            code="preview_on_device",
        )
    digest = digest_of(choices)
    if storage.exists(video_key(owner.id, event_id, digest)):
        return digest
    discard_previews(storage, owner.id, event_id)  # one preview per clip: others are stale
    zones = scaled_zones(camera.privacy_zones, clip.width or 0, clip.height or 0)
    state = {
        "choices": choices.as_dict(),
        "source_key": clip.storage_key,
        "zones": zones if clip.width and clip.height else [],
        "progress": 0.0,
    }
    _write_state(storage, _state_key(owner.id, event_id, digest), state)
    payload = {"owner_id": str(owner.id), "event_id": str(event_id), "digest": digest}
    outbox.enqueue(session=session, kind=PREVIEW_JOB, payload=payload, max_attempts=PREVIEW_TRIES)
    return digest


def read_preview(
    storage: MediaStorage, owner: User, event_id: uuid.UUID, digest: str
) -> Preview | None:
    """The preview named ``digest`` of the owner's clip, or None when there is none."""
    try:
        state = json.loads(storage.read_bytes(_state_key(owner.id, event_id, digest)))
    except (NotFound, ValueError):
        return None
    return Preview(
        digest=digest,
        choices=Choices.from_dict(state.get("choices")),
        progress=float(state.get("progress") or 0.0),
        error=state.get("error"),
        manifest=state.get("manifest"),
    )


def run_preview(ctx: LongJobContext, payload: dict[str, Any]) -> None:
    """The ``footage.preview`` job: the copy as a share would make it, and what it hid."""
    storage = ctx.services.storage
    owner_id, event_id = uuid.UUID(payload["owner_id"]), uuid.UUID(payload["event_id"])
    state_key = _state_key(owner_id, event_id, payload["digest"])
    try:
        state = json.loads(storage.read_bytes(state_key))
    except NotFound:
        return  # replaced by a newer preview
    if state.get("manifest") is not None:
        return
    choices = Choices.from_dict(state["choices"])

    def write_progress(share: float) -> None:
        _write_state(storage, state_key, {**state, "progress": round(min(share, 0.99), 3)})
        ctx.keep_alive()

    progress = throttled(write_progress, _PROGRESS_EVERY_S)

    dst = video_key(owner_id, event_id, payload["digest"])
    try:
        zones = [[(float(x), float(y)) for x, y in zone] for zone in state["zones"]]
        report = release_copy(
            storage, state["source_key"], dst, choices.options(zones), progress=progress
        )
    except Exception as exc:
        reason = failure_reason(exc, last_try=ctx.attempt >= PREVIEW_TRIES)
        if reason is None:
            raise  # the outbox tries again later
        _write_state(storage, state_key, {**state, "error": reason})
        return
    manifest = manifest_of(report, choices)
    _write_state(storage, state_key, {**state, "progress": 1.0, "manifest": manifest})
