"""JSON routes for cameras, device ingest, the timeline and clip media."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import FormData, UploadFile

from doorstep import paging
from doorstep.accounts.deps import AnyUser, CurrentUser, bearer_token
from doorstep.cameras import service as camera_service
from doorstep.cameras.models import EventKind
from doorstep.cameras.schemas import (
    CameraCreate,
    CameraIssued,
    CameraRead,
    CameraToken,
    CameraUpdate,
    ClipRead,
    EventBatch,
    EventBatchResult,
    EventCreate,
    EventPage,
    EventRead,
)
from doorstep.errors import InvalidInput, PayloadTooLarge
from doorstep.http import DbSession, RuntimeDep
from doorstep.inputs import DeviceRef, OptionalMoment
from doorstep.media.streaming import media_response
from doorstep.media.video import ClipLimits
from doorstep.routing import GuardedRoute
from doorstep.runtime import Runtime

T = TypeVar("T")
router = APIRouter(tags=["cameras"], route_class=GuardedRoute)
api = "/api/v1"
# Room for the multipart envelope and the small form fields around the file.
_MULTIPART_OVERHEAD = 64 * 1024


@router.post(f"{api}/cameras", response_model=CameraIssued, status_code=status.HTTP_201_CREATED)
def register_camera(body: CameraCreate, user: CurrentUser, session: DbSession) -> CameraIssued:
    camera, token = camera_service.register_camera(
        session=session,
        owner=user,
        name=body.name,
        kind=body.kind,
        latitude=body.latitude,
        longitude=body.longitude,
        accepts_requests=body.accepts_requests,
        retention_days=body.retention_days,
    )
    return CameraIssued(**camera_service.owner_view(camera).model_dump(), ingest_token=token)


@router.get(f"{api}/cameras", response_model=list[CameraRead])
def list_cameras(user: CurrentUser, session: DbSession) -> list[CameraRead]:
    return [
        camera_service.owner_view(c)
        for c in camera_service.list_cameras(session=session, owner=user)
    ]


@router.get(f"{api}/cameras/{{camera_id}}", response_model=CameraRead)
def get_camera(camera_id: uuid.UUID, user: CurrentUser, session: DbSession) -> CameraRead:
    return camera_service.owner_view(
        camera_service.get_own_camera(session=session, owner=user, camera_id=camera_id)
    )


@router.patch(f"{api}/cameras/{{camera_id}}", response_model=CameraRead)
def update_camera(
    camera_id: uuid.UUID, body: CameraUpdate, user: CurrentUser, session: DbSession
) -> CameraRead:
    camera = camera_service.update_camera(
        session=session,
        owner=user,
        camera_id=camera_id,
        **body.model_dump(exclude_unset=True),
    )
    return camera_service.owner_view(camera)


@router.delete(f"{api}/cameras/{{camera_id}}", status_code=status.HTTP_204_NO_CONTENT)
def delete_camera(
    camera_id: uuid.UUID, user: CurrentUser, session: DbSession, runtime: RuntimeDep
) -> Response:
    camera_service.delete_camera(
        session=session, storage=runtime.storage, owner=user, camera_id=camera_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(f"{api}/cameras/{{camera_id}}/token/rotate", response_model=CameraToken)
def rotate_token(camera_id: uuid.UUID, user: CurrentUser, session: DbSession) -> CameraToken:
    camera, token = camera_service.rotate_camera_token(
        session=session, owner=user, camera_id=camera_id
    )
    return CameraToken(camera_id=camera.id, ingest_token=token)


@router.delete(f"{api}/cameras/{{camera_id}}/token", response_model=CameraRead)
def revoke_token(camera_id: uuid.UUID, user: CurrentUser, session: DbSession) -> CameraRead:
    return camera_service.owner_view(
        camera_service.revoke_camera_token(session=session, owner=user, camera_id=camera_id)
    )


# ---------------------------------------------------------------- device ingest


def spool_upload(upload: UploadFile, limit: int) -> Path:
    """Copy the upload to a temp file, refusing it as soon as it passes ``limit`` bytes."""
    fd, name = tempfile.mkstemp(prefix="doorstep-upload-", suffix=".mp4")
    path = Path(name)
    written = 0
    try:
        with os.fdopen(fd, "wb") as handle:
            upload.file.seek(0)
            while chunk := upload.file.read(1 << 20):
                written += len(chunk)
                if written > limit:
                    raise PayloadTooLarge(
                        f"A clip is at most {limit} bytes.",
                        code="clip_too_large",
                        limit_bytes=limit,
                    )
                handle.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _ingest(
    runtime: Runtime,
    camera_id: uuid.UUID,
    token: str | None,
    upload: UploadFile,
    started_at: datetime,
    kind: EventKind,
    device_ref: str | None,
) -> tuple[EventRead, bool]:
    """A clip upload in three steps, so that the (SQLite) write lock is held only for the
    inserts, never while a clip decodes: the checks in a read-only transaction; the clip
    probed, hashed, thumbnailed and stored outside any transaction; then one short write
    transaction that checks again what may have changed meanwhile. Blocking."""
    limits = ClipLimits.from_settings(runtime.settings)
    max_age_days = runtime.settings.max_clip_age_days
    with runtime.db.read_only() as session:
        camera = camera_service.authenticate_camera(
            session=session, camera_id=camera_id, token=token
        )
        existing = camera_service.check_clip(
            session=session,
            camera=camera,
            started_at=started_at,
            device_ref=device_ref,
            max_age_days=max_age_days,
        )
        if existing is not None:  # a retry: the event it made, without decoding it again
            return camera_service.event_view(existing.event, camera, existing.clip), False
    path = spool_upload(upload, limits.max_bytes)
    try:
        stored = camera_service.store_clip(
            storage=runtime.storage, limits=limits, camera_id=camera_id, file_path=path
        )
    finally:
        path.unlink(missing_ok=True)
    try:
        with runtime.db.transaction() as session:
            # Again: the token may have been revoked while the clip was decoding.
            camera = camera_service.authenticate_camera(
                session=session, camera_id=camera_id, token=token
            )
            result = camera_service.record_clip(
                session=session,
                storage=runtime.storage,
                camera=camera,
                stored=stored,
                started_at=started_at,
                kind=kind,
                device_ref=device_ref,
                max_age_days=max_age_days,
            )
            view = camera_service.event_view(result.event, camera, result.clip)
    except BaseException:
        # Refused or failed before record_clip took the files in hand (the commit failing
        # included): they are removed here, whatever step stopped it.
        camera_service.discard_clip(storage=runtime.storage, stored=stored)
        raise
    return view, result.created


def _authenticate_device(runtime: Runtime, camera_id: uuid.UUID, token: str | None) -> None:
    with runtime.db.read_only() as session:
        camera_service.authenticate_camera(session=session, camera_id=camera_id, token=token)


@asynccontextmanager
async def camera_upload(
    request: Request, runtime: Runtime, camera_id: uuid.UUID
) -> AsyncIterator[tuple[str | None, FormData, UploadFile]]:
    """A device's multipart upload: the camera token is checked before the body is read,
    an announced body over the clip limit is refused unread, and the form is closed
    (its spooled file removed) whatever happens."""
    token = bearer_token(request)
    # In a thread: a database call on the event loop stalls every request of the process
    # while it waits (for SQLite's lock, up to the busy timeout). Read-only: a token check
    # needs no write lock.
    await run_in_threadpool(_authenticate_device, runtime, camera_id, token)
    limit = runtime.settings.max_clip_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + _MULTIPART_OVERHEAD:
        raise PayloadTooLarge(
            f"A clip is at most {limit} bytes.", code="clip_too_large", limit_bytes=limit
        )
    form = await request.form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput(
                "Send the clip as a multipart file field named 'file'.", code="file_missing"
            )
        yield token, form, upload
    finally:
        await form.close()


def multipart_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """OpenAPI for a multipart/form-data request body that a route reads itself (FastAPI
    describes only the bodies it parses)."""
    schema = {"type": "object", "properties": properties, "required": required}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


CLIP_FILE_FIELD: dict[str, Any] = {
    "type": "string",
    "format": "binary",
    "description": "The clip: a complete H.264 MP4 or MOV file within the instance's limits "
    "(DOORSTEP_MAX_CLIP_BYTES, _DURATION_S, _WIDTH, _HEIGHT).",
}
_DEVICE_REF = TypeAdapter(DeviceRef)
_CLIP_UPLOAD_BODY = multipart_body(
    {
        "file": CLIP_FILE_FIELD,
        "started_at": {
            "type": "string",
            "format": "date-time",
            "description": "When the clip starts, with a time zone. Not in the future, and "
            "not older than the camera's retention (DOORSTEP_MAX_CLIP_AGE_DAYS may shorten "
            "it): older clips are refused with clip_too_old.",
        },
        "kind": {
            "type": "string",
            "enum": [k.value for k in EventKind],
            "default": EventKind.motion.value,
            "description": "What the camera saw.",
        },
        "device_ref": {
            **_DEVICE_REF.json_schema(),
            "description": "Optional: the device's own name for the clip. Sent again with "
            "the same device_ref, the upload answers 200 with the event already recorded. "
            "1 to 200 characters on one line, no leading or trailing spaces.",
        },
    },
    ["file", "started_at"],
)


@router.post(
    f"{api}/cameras/{{camera_id}}/clips",
    response_model=EventRead,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_CLIP_UPLOAD_BODY,
)
async def upload_clip(
    camera_id: uuid.UUID, request: Request, response: Response, runtime: RuntimeDep
) -> EventRead:
    """A camera uploads a motion clip (multipart: ``file``, ``started_at``, ``kind``, and an
    optional ``device_ref``). Authenticated with the camera's ingest token as a bearer token.
    Sent again with the same ``device_ref``, it answers 200 with the event already recorded.
    """
    async with camera_upload(request, runtime, camera_id) as (token, form, upload):
        started_at = _form_value(form.get("started_at"), datetime, "started_at")
        kind = _form_value(form.get("kind") or "motion", EventKind, "kind")
        device_ref = _device_ref_field(form.get("device_ref"))
        view, created = await run_in_threadpool(
            _ingest, runtime, camera_id, token, upload, started_at, kind, device_ref
        )
        if not created:
            response.status_code = status.HTTP_200_OK
        return view


def _device_ref_field(raw: object) -> str | None:
    """The form's device_ref, by the same rule (DeviceRef) and with the same 422 as the JSON
    endpoints: one schema however a device sends it. Left out, it is None; sent empty, it
    is refused like an empty JSON string."""
    if raw is None:
        return None
    try:
        return _DEVICE_REF.validate_python(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", "device_ref")} for error in exc.errors()]
        ) from None


def _form_value(raw: object, kind: type[T], name: str) -> T:
    if not isinstance(raw, str) or not raw:
        raise InvalidInput(
            f"The form field '{name}' is required.", code="field_missing", field=name
        )
    try:
        value = TypeAdapter(kind).validate_python(raw)
    except ValidationError as exc:
        raise InvalidInput(
            f"The form field '{name}' is not valid: {raw!r}.", code="invalid_field", field=name
        ) from exc
    if isinstance(value, datetime) and value.tzinfo is None:
        raise InvalidInput(
            "Times need a time zone (e.g. 2026-11-29T12:00:00Z).", code="naive_time", field=name
        )
    return value


@router.post(
    f"{api}/cameras/{{camera_id}}/events",
    response_model=EventRead,
    status_code=status.HTTP_201_CREATED,
)
def report_event(
    camera_id: uuid.UUID,
    body: EventCreate,
    request: Request,
    response: Response,
    session: DbSession,
    runtime: RuntimeDep,
) -> EventRead:
    """A local-first event: the device keeps the clip until the owner shares it.
    Sent again with the same ``device_ref``, it answers 200 with the event already recorded.
    """
    camera = camera_service.authenticate_camera(
        session=session, camera_id=camera_id, token=bearer_token(request)
    )
    result = camera_service.report_device_event(
        session=session,
        camera=camera,
        kind=body.kind,
        started_at=body.started_at,
        ended_at=body.ended_at,
        device_ref=body.device_ref,
        max_duration_s=runtime.settings.max_clip_duration_s,
        max_age_days=runtime.settings.max_clip_age_days,
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return camera_service.event_view(result.event, camera, result.clip)


@router.post(
    f"{api}/cameras/{{camera_id}}/events/batch",
    response_model=EventBatchResult,
    status_code=status.HTTP_201_CREATED,
)
def report_events(
    camera_id: uuid.UUID,
    body: EventBatch,
    request: Request,
    session: DbSession,
    runtime: RuntimeDep,
) -> EventBatchResult:
    """Many local-first events at once (up to 1,000): all recorded or none; events whose
    ``device_ref`` was already recorded are skipped and counted as duplicates."""
    camera = camera_service.authenticate_camera(
        session=session, camera_id=camera_id, token=bearer_token(request)
    )
    result = camera_service.record_device_events(
        session=session,
        camera=camera,
        events=[
            camera_service.DeviceEventSpec(
                kind=e.kind, started_at=e.started_at, ended_at=e.ended_at, device_ref=e.device_ref
            )
            for e in body.events
        ],
        max_duration_s=runtime.settings.max_clip_duration_s,
        max_age_days=runtime.settings.max_clip_age_days,
    )
    return EventBatchResult(created=result.created, duplicates=result.duplicates)


# ---------------------------------------------------------------- timeline


@router.get(f"{api}/events", response_model=EventPage)
def list_events(
    user: CurrentUser,
    session: DbSession,
    camera_id: uuid.UUID | None = None,
    kind: Annotated[list[EventKind] | None, Query()] = None,
    since: OptionalMoment = None,
    until: OptionalMoment = None,
    on_device: bool | None = None,
    cursor: Annotated[str | None, Query(max_length=paging.MAX_CURSOR_CHARS)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EventPage:
    page = camera_service.timeline(
        session=session,
        owner=user,
        camera_id=camera_id,
        kinds=kind,
        since=since,
        until=until,
        on_device=on_device,
        cursor=cursor,
        limit=limit,
    )
    return EventPage(
        events=[camera_service.event_view(*row) for row in page.rows], next_cursor=page.next_cursor
    )


@router.get(f"{api}/events/{{event_id}}", response_model=EventRead)
def get_event(event_id: uuid.UUID, user: CurrentUser, session: DbSession) -> EventRead:
    return camera_service.event_view(
        *camera_service.get_own_event(session=session, owner=user, event_id=event_id)
    )


@router.delete(f"{api}/events/{{event_id}}", status_code=status.HTTP_204_NO_CONTENT)
def delete_event(
    event_id: uuid.UUID, user: CurrentUser, session: DbSession, runtime: RuntimeDep
) -> Response:
    camera_service.delete_event(
        session=session, storage=runtime.storage, owner=user, event_id=event_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(f"{api}/clips/{{clip_id}}", response_model=ClipRead)
def get_clip(clip_id: uuid.UUID, user: CurrentUser, session: DbSession) -> ClipRead:
    return camera_service.clip_view(
        camera_service.get_own_clip(session=session, owner=user, clip_id=clip_id)
    )


@router.delete(f"{api}/clips/{{clip_id}}", status_code=status.HTTP_204_NO_CONTENT)
def delete_clip(
    clip_id: uuid.UUID, user: CurrentUser, session: DbSession, runtime: RuntimeDep
) -> Response:
    camera_service.delete_clip(
        session=session, storage=runtime.storage, owner=user, clip_id=clip_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# ---------------------------------------------------------------- media


@router.get("/media/clips/{clip_id}.mp4", include_in_schema=False)
def clip_video(
    clip_id: uuid.UUID, request: Request, user: AnyUser, session: DbSession, runtime: RuntimeDep
) -> Response:
    clip = camera_service.get_own_clip(session=session, owner=user, clip_id=clip_id)
    return media_response(
        runtime.storage,
        camera_service.clip_file_key(clip, thumbnail=False),
        content_type="video/mp4",
        range_header=request.headers.get("range"),
        filename=f"{clip.id}.mp4",
    )


@router.get("/media/clips/{clip_id}.jpg", include_in_schema=False)
def clip_thumbnail(
    clip_id: uuid.UUID, user: AnyUser, session: DbSession, runtime: RuntimeDep
) -> Response:
    clip = camera_service.get_own_clip(session=session, owner=user, clip_id=clip_id)
    return media_response(
        runtime.storage,
        camera_service.clip_file_key(clip, thumbnail=True),
        content_type="image/jpeg",
        range_header=None,
    )
