"""JSON routes a camera calls with its ingest token: clip uploads and local-first events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TypeVar

from fastapi import APIRouter, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.datastructures import UploadFile

from doorstep.accounts.deps import bearer_token
from doorstep.cameras import clips as camera_clips
from doorstep.cameras import events as camera_events
from doorstep.cameras import inbox as camera_inbox
from doorstep.cameras import ingest_groups
from doorstep.cameras import registry as camera_registry
from doorstep.cameras import zones as camera_zones
from doorstep.cameras.schemas import EventBatch, EventBatchResult, EventCreate, EventRead
from doorstep.cameras.uploads import CLIP_FILE_FIELD, camera_upload, multipart_body, spooled_upload
from doorstep.errors import InvalidInput
from doorstep.http import DbSession, RuntimeDep, fence_reads
from doorstep.inputs import DeviceRef
from doorstep.media.kinds import EventKind
from doorstep.media.video import ClipLimits
from doorstep.routing import GuardedRoute
from doorstep.runtime import Runtime

T = TypeVar("T")
router = APIRouter(tags=["cameras"], route_class=GuardedRoute)
api = "/api/v1"


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
        camera = camera_registry.authenticate_camera(
            session=session, camera_id=camera_id, token=token
        )
        existing = camera_clips.check_clip(
            session=session,
            camera=camera,
            started_at=started_at,
            device_ref=device_ref,
            max_age_days=max_age_days,
        )
        if existing is not None:  # a retry: the event it made, without decoding it again
            return camera_inbox.event_view(existing.event, camera, existing.clip), False
        zones = camera_zones.ingest_zones(camera)
    with spooled_upload(upload, limits.max_bytes) as path:
        stored = camera_clips.store_clip(
            storage=runtime.storage,
            limits=limits,
            camera_id=camera_id,
            file_path=path,
            zones=zones,
        )
    with runtime.db.transaction() as session:
        # First: whatever step below refuses or fails (the commit included), the files go.
        camera_clips.discard_on_rollback(session=session, storage=runtime.storage, stored=stored)
        # Again: the token may have been revoked while the clip was decoding.
        camera = camera_registry.authenticate_camera(
            session=session, camera_id=camera_id, token=token
        )
        result = camera_clips.record_clip(
            session=session,
            storage=runtime.storage,
            camera=camera,
            stored=stored,
            started_at=started_at,
            kind=kind,
            device_ref=device_ref,
            max_age_days=max_age_days,
            instance_zone=runtime.settings.time_zone,
        )
        view = camera_inbox.event_view(result.event, camera, result.clip)
    return view, result.created


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
async def report_event(
    camera_id: uuid.UUID, body: EventCreate, request: Request, response: Response
) -> EventRead:
    """A local-first event: the device keeps the clip until the owner shares it.
    Sent again with the same ``device_ref``, it answers 200 with the event already recorded.

    Concurrent devices' events are written together, in one transaction
    (``DOORSTEP_INGEST_GROUP_WINDOW_MS``, see ``ingest_groups``); the answer comes after
    the commit. No dependency here takes a thread: the group takes one for all its events.
    """
    runtime: Runtime = request.app.state.runtime
    item = camera_events.GroupedEvent(
        camera_id=camera_id,
        token=bearer_token(request),
        spec=camera_events.DeviceEventSpec(**body.model_dump()),
    )
    if runtime.settings.ingest_group_window_ms > 0:
        gatherer = ingest_groups.event_gatherer(request.app.state, runtime)
        view, created = await gatherer.submit(item)
    else:
        view, created = await run_in_threadpool(ingest_groups.record_one, runtime, item)
    if runtime.replicas.configured:
        await fence_reads(request, runtime)
    if not created:
        response.status_code = status.HTTP_200_OK
    return view


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
    camera = camera_registry.authenticate_camera(
        session=session, camera_id=camera_id, token=bearer_token(request)
    )
    result = camera_events.record_device_events(
        session=session,
        camera=camera,
        events=[camera_events.DeviceEventSpec(**e.model_dump()) for e in body.events],
        max_duration_s=runtime.settings.max_clip_duration_s,
        alert_window_s=runtime.settings.event_alert_window_s,
        max_age_days=runtime.settings.max_clip_age_days,
    )
    return EventBatchResult(created=result.created, duplicates=result.duplicates)
