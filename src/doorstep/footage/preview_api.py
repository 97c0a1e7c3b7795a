"""JSON routes for the owner's previews of a redacted copy (the pages' twin): ask for one
with the same choices a share takes, poll it, fetch its video."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response, status

from doorstep.accounts.deps import AnyUser, CurrentUser
from doorstep.errors import NotFound
from doorstep.footage import answers as answer_service
from doorstep.footage import previews
from doorstep.footage.schemas import PreviewRead, RedactionChoices
from doorstep.http import DbSession, RuntimeDep
from doorstep.media.redaction import Choices
from doorstep.media.streaming import media_response
from doorstep.routing import GuardedRoute

router = APIRouter(prefix="/api/v1", tags=["footage requests"], route_class=GuardedRoute)

BASE = "/api/v1/inbox/requests/{request_id}/events/{event_id}/previews"


def _read(
    runtime: RuntimeDep, user: CurrentUser, request_id: uuid.UUID, event_id: uuid.UUID, digest: str
) -> PreviewRead:
    preview = previews.read_preview(runtime.storage, user, event_id, digest)
    if preview is None:
        raise NotFound("No such preview.", code="preview_not_found")
    state = "failed" if preview.error else "ready" if preview.ready else "preparing"
    url = BASE.format(request_id=request_id, event_id=event_id)
    return PreviewRead(
        id=preview.digest,
        status=state,
        progress=1.0 if preview.ready else preview.progress,
        error=preview.error,
        video_url=f"{url}/{preview.digest}/video" if preview.ready else None,
        manifest=preview.manifest,
    )


@router.post(
    "/inbox/requests/{request_id}/events/{event_id}/previews",
    response_model=PreviewRead,
    status_code=status.HTTP_202_ACCEPTED,
)
def make_preview(
    request_id: uuid.UUID,
    event_id: uuid.UUID,
    body: RedactionChoices,
    user: CurrentUser,
    session: DbSession,
    runtime: RuntimeDep,
) -> PreviewRead:
    """Make the copy an agency would receive of one of the owner's clips in the request's
    window, with these choices, for the owner alone. The worker makes it: poll it."""
    digest = previews.request_preview(
        session=session,
        storage=runtime.storage,
        owner=user,
        request_id=request_id,
        event_id=event_id,
        choices=Choices.from_dict(body.model_dump()),
    )
    return _read(runtime, user, request_id, event_id, digest)


@router.get(
    "/inbox/requests/{request_id}/events/{event_id}/previews/{preview_id}",
    response_model=PreviewRead,
)
def get_preview(
    request_id: uuid.UUID,
    event_id: uuid.UUID,
    preview_id: str,
    user: CurrentUser,
    session: DbSession,
    runtime: RuntimeDep,
) -> PreviewRead:
    """A preview's progress and, once ready, what it hid (tracks to take back by id)."""
    answer_service.get_owner_request(session=session, owner=user, request_id=request_id)
    return _read(runtime, user, request_id, event_id, previews.checked_digest(preview_id))


@router.get("/inbox/requests/{request_id}/events/{event_id}/previews/{preview_id}/video")
def preview_video(
    request_id: uuid.UUID,
    event_id: uuid.UUID,
    preview_id: str,
    request: Request,
    user: AnyUser,
    session: DbSession,
    runtime: RuntimeDep,
) -> Response:
    """The preview's video, for its owner alone (the page plays it too)."""
    answer_service.get_owner_request(session=session, owner=user, request_id=request_id)
    key = previews.video_key(user.id, event_id, previews.checked_digest(preview_id))
    if not runtime.storage.exists(key):
        raise NotFound("No such preview.", code="preview_not_found")
    return media_response(
        runtime.storage, key, content_type="video/mp4", range_header=request.headers.get("range")
    )
