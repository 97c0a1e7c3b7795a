"""JSON routes for an owner: his cameras, his timeline, his clips and their media.
A camera's own routes (uploads, local-first events) are in ``device_api``."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from doorstep.accounts.deps import AnyUser, CurrentUser
from doorstep.cameras import deletion as camera_deletion
from doorstep.cameras import inbox as camera_inbox
from doorstep.cameras import keeps as camera_keeps
from doorstep.cameras import registry as camera_registry
from doorstep.cameras import zones as camera_zones
from doorstep.cameras.schemas import (
    CameraCreate,
    CameraIssued,
    CameraRead,
    CameraToken,
    CameraUpdate,
    ClipRead,
    EventPage,
    EventRead,
    ZonesRead,
    ZonesUpdate,
)
from doorstep.http import DbSession, PageCursor, ReadSession, RuntimeDep, SettingsDep
from doorstep.inputs import OptionalMoment
from doorstep.media.kinds import EventKind
from doorstep.media.streaming import media_response
from doorstep.routing import GuardedRoute

router = APIRouter(tags=["cameras"], route_class=GuardedRoute)
api = "/api/v1"


@router.post(f"{api}/cameras", response_model=CameraIssued, status_code=status.HTTP_201_CREATED)
def register_camera(body: CameraCreate, user: CurrentUser, session: DbSession) -> CameraIssued:
    camera, token = camera_registry.register_camera(
        session=session, owner=user, **body.model_dump()
    )
    return CameraIssued(**camera_registry.owner_view(camera).model_dump(), ingest_token=token)


@router.get(f"{api}/cameras", response_model=list[CameraRead])
def list_cameras(user: CurrentUser, session: DbSession) -> list[CameraRead]:
    return [
        camera_registry.owner_view(c)
        for c in camera_registry.list_cameras(session=session, owner=user)
    ]


@router.get(f"{api}/cameras/{{camera_id}}", response_model=CameraRead)
def get_camera(camera_id: uuid.UUID, user: CurrentUser, session: DbSession) -> CameraRead:
    return camera_registry.owner_view(
        camera_registry.get_own_camera(session=session, owner=user, camera_id=camera_id)
    )


@router.patch(f"{api}/cameras/{{camera_id}}", response_model=CameraRead)
def update_camera(
    camera_id: uuid.UUID, body: CameraUpdate, user: CurrentUser, session: DbSession
) -> CameraRead:
    camera = camera_registry.update_camera(
        session=session,
        owner=user,
        camera_id=camera_id,
        **body.model_dump(exclude_unset=True),
    )
    return camera_registry.owner_view(camera)


@router.delete(f"{api}/cameras/{{camera_id}}", status_code=status.HTTP_204_NO_CONTENT)
def delete_camera(
    camera_id: uuid.UUID, user: CurrentUser, session: DbSession, runtime: RuntimeDep
) -> Response:
    camera_registry.delete_camera(
        session=session, storage=runtime.storage, owner=user, camera_id=camera_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(f"{api}/cameras/{{camera_id}}/token/rotate", response_model=CameraToken)
def rotate_token(camera_id: uuid.UUID, user: CurrentUser, session: DbSession) -> CameraToken:
    camera, token = camera_registry.rotate_camera_token(
        session=session, owner=user, camera_id=camera_id
    )
    return CameraToken(camera_id=camera.id, ingest_token=token)


@router.delete(f"{api}/cameras/{{camera_id}}/token", response_model=CameraRead)
def revoke_token(camera_id: uuid.UUID, user: CurrentUser, session: DbSession) -> CameraRead:
    return camera_registry.owner_view(
        camera_registry.revoke_camera_token(session=session, owner=user, camera_id=camera_id)
    )


# ---------------------------------------------------------------- timeline


@router.get(f"{api}/cameras/{{camera_id}}/zones", response_model=ZonesRead)
def get_zones(camera_id: uuid.UUID, user: CurrentUser, session: DbSession) -> ZonesRead:
    """The camera's privacy zones, in the pixels of the frame they were drawn on."""
    camera = camera_zones.get_zones(session=session, owner=user, camera_id=camera_id)
    return camera_zones.zones_view(camera)


@router.put(f"{api}/cameras/{{camera_id}}/zones", response_model=ZonesRead)
def set_zones(
    camera_id: uuid.UUID, body: ZonesUpdate, user: CurrentUser, session: DbSession
) -> ZonesRead:
    """Replace the camera's privacy zones. They are filled solid in every copy that leaves
    you from now on (evidence, feed clips, exports); with apply_at_ingest, also before
    clips are stored. Copies already made do not change.

    A bad polygon is refused with a 400 whose message names the zone and whose code says
    what is wrong: `zone_too_many` (over 16 zones), `zone_too_few_points` (under 3),
    `zone_too_many_points` (over 64), `zone_outside_frame`, `zone_self_intersecting`,
    `zone_empty` (no area)."""
    camera = camera_zones.set_zones(
        session=session,
        owner=user,
        camera_id=camera_id,
        width=body.width,
        height=body.height,
        polygons=body.polygons,
        apply_at_ingest=body.apply_at_ingest,
    )
    return camera_zones.zones_view(camera)


@router.delete(f"{api}/cameras/{{camera_id}}/zones", status_code=status.HTTP_204_NO_CONTENT)
def clear_zones(camera_id: uuid.UUID, user: CurrentUser, session: DbSession) -> Response:
    """Remove the camera's privacy zones (later copies only)."""
    camera_zones.clear_zones(session=session, owner=user, camera_id=camera_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(f"{api}/events", response_model=EventPage)
def list_events(
    user: CurrentUser,
    session: ReadSession,
    camera_id: uuid.UUID | None = None,
    kind: Annotated[list[EventKind] | None, Query()] = None,
    since: OptionalMoment = None,
    until: OptionalMoment = None,
    on_device: bool | None = None,
    cursor: PageCursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EventPage:
    page = camera_inbox.timeline(
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
        events=[camera_inbox.event_view(*row) for row in page.rows], next_cursor=page.next_cursor
    )


@router.get(f"{api}/events/{{event_id}}", response_model=EventRead)
def get_event(event_id: uuid.UUID, user: CurrentUser, session: DbSession) -> EventRead:
    return camera_inbox.event_view(
        *camera_inbox.get_own_event(session=session, owner=user, event_id=event_id)
    )


@router.delete(f"{api}/events/{{event_id}}", status_code=status.HTTP_204_NO_CONTENT)
def delete_event(
    event_id: uuid.UUID, user: CurrentUser, session: DbSession, runtime: RuntimeDep
) -> Response:
    camera_deletion.delete_event(
        session=session, storage=runtime.storage, owner=user, event_id=event_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(f"{api}/clips/{{clip_id}}", response_model=ClipRead)
def get_clip(clip_id: uuid.UUID, user: CurrentUser, session: DbSession) -> ClipRead:
    return camera_inbox.clip_view(
        camera_inbox.get_own_clip(session=session, owner=user, clip_id=clip_id)
    )


@router.delete(f"{api}/clips/{{clip_id}}", status_code=status.HTTP_204_NO_CONTENT)
def delete_clip(
    clip_id: uuid.UUID, user: CurrentUser, session: DbSession, runtime: RuntimeDep
) -> Response:
    camera_deletion.delete_clip(
        session=session, storage=runtime.storage, owner=user, clip_id=clip_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(f"{api}/clips/{{clip_id}}/keep", response_model=ClipRead)
def keep_clip(
    clip_id: uuid.UUID, user: CurrentUser, session: DbSession, settings: SettingsDep
) -> ClipRead:
    """Keep the clip past its camera's retention (409 ``keep_limit_reached`` over the
    instance's maximum)."""
    return camera_inbox.clip_view(
        camera_keeps.keep_clip(
            session=session, owner=user, clip_id=clip_id, max_kept=settings.max_kept_clips
        )
    )


@router.delete(f"{api}/clips/{{clip_id}}/keep", response_model=ClipRead)
def stop_keeping_clip(clip_id: uuid.UUID, user: CurrentUser, session: DbSession) -> ClipRead:
    """Stop keeping the clip: the next retention sweep deletes it if it is past retention."""
    return camera_inbox.clip_view(
        camera_keeps.stop_keeping_clip(session=session, owner=user, clip_id=clip_id)
    )


# ---------------------------------------------------------------- media


@router.get("/media/clips/{clip_id}.mp4", include_in_schema=False)
def clip_video(
    clip_id: uuid.UUID, request: Request, user: AnyUser, session: DbSession, runtime: RuntimeDep
) -> Response:
    clip = camera_inbox.get_own_clip(session=session, owner=user, clip_id=clip_id)
    return media_response(
        runtime.storage,
        camera_inbox.clip_file_key(clip, thumbnail=False),
        content_type="video/mp4",
        range_header=request.headers.get("range"),
        filename=f"{clip.id}.mp4",
    )


@router.get("/media/clips/{clip_id}.jpg", include_in_schema=False)
def clip_thumbnail(
    clip_id: uuid.UUID, user: AnyUser, session: DbSession, runtime: RuntimeDep
) -> Response:
    clip = camera_inbox.get_own_clip(session=session, owner=user, clip_id=clip_id)
    return media_response(
        runtime.storage,
        camera_inbox.clip_file_key(clip, thumbnail=True),
        content_type="image/jpeg",
        range_header=None,
    )
