"""HTML routes for the owner's cameras, his timeline of events, and one event with its clip.

Privacy: the exact position is put into pages only here, on the owner's own camera
pages, through ``camera_registry.owner_view``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from doorstep.accounts.deps import CheckedForm, PageUser, ReadPage, ThisPage
from doorstep.accounts.models import Role, User
from doorstep.cameras import deletion as camera_deletion
from doorstep.cameras import inbox as camera_inbox
from doorstep.cameras import keeps as camera_keeps
from doorstep.cameras import registry as camera_registry
from doorstep.cameras import zones as camera_zones
from doorstep.cameras.models import CameraKind, Clip
from doorstep.cameras.schemas import CameraCreate, CameraRead, CameraUpdate, EventRead
from doorstep.errors import DoorstepError, InvalidInput, found
from doorstep.http import DbSession, RuntimeDep, SettingsDep
from doorstep.media.kinds import EventKind
from doorstep.routing import GuardedRoute
from doorstep.web.forms import DayFilters, checkbox, chosen, require_position, text, validated
from doorstep.web.render import Page, never_cached, redirect

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

NOTICES = {
    "camera_saved": "Camera settings saved.",
    "zones_saved": "Privacy zones saved. They apply to copies made from now on.",
    "camera_deleted": "The camera and all its clips were deleted.",
    "token_revoked": "The ingest token was revoked. The camera can no longer upload.",
    "event_deleted": "The event was deleted; its clip file is gone from storage.",
    "clip_kept": "This clip is kept: retention leaves it until you stop keeping it.",
    "clip_unkept": "This clip is no longer kept: it is deleted once it is past retention.",
}


def layout_context(session: Session, user: User) -> dict[str, object]:
    """What the layout shows of cameras: whether an agency member also owns cameras, so
    that his navigation offers the owner's pages too (a resident's always does)."""
    if user.role != Role.agency_member:
        return {}
    return {"owns_cameras": camera_registry.owns_cameras(session=session, owner=user)}


_CAMERA_LABELS = {
    "name": "Name",
    "kind": "Kind",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "accepts_requests": "Accepts requests",
    "retention_days": "Retention",
}
DEFAULT_RETENTION_DAYS = 60


def _camera_values(form: FormData) -> dict[str, Any]:
    return {
        "name": text(form.get("name")),
        "kind": text(form.get("kind")),
        "latitude": text(form.get("latitude")).strip(),
        "longitude": text(form.get("longitude")).strip(),
        "accepts_requests": checkbox(form.get("accepts_requests")),
        "retention_days": text(form.get("retention_days")).strip() or DEFAULT_RETENTION_DAYS,
    }


def _parse_camera(values: dict[str, Any], schema: type[CameraCreate] | type[CameraUpdate]) -> Any:
    require_position(values, "the camera")
    return validated(schema, values, _CAMERA_LABELS)


def _form_page(page: Page, name: str, *, values: dict[str, Any], **context: Any) -> Response:
    return page.show(name, values=values, camera_kinds=list(CameraKind), **context)


def _token_page(
    page: Page, base_url: str, camera: CameraRead, token: str, *, is_new: bool
) -> Response:
    upload_url = f"{base_url.rstrip('/')}/api/v1/cameras/{camera.id}/clips"
    # The token is shown once.
    return never_cached(
        page.show(
            "cameras/token.html", camera=camera, token=token, upload_url=upload_url, is_new=is_new
        )
    )


# ---------------------------------------------------------------- cameras


@router.get("/cameras", response_class=HTMLResponse)
def cameras(page: ThisPage, user: PageUser) -> Response:
    views = [
        camera_registry.owner_view(c)
        for c in camera_registry.list_cameras(session=page.session, owner=user)
    ]
    return page.show("cameras/list.html", cameras=views, notice=page.notice(NOTICES))


@router.get("/cameras/new", response_class=HTMLResponse)
def new_camera_form(page: ThisPage, user: PageUser) -> Response:
    values = {
        "name": "",
        "kind": CameraKind.doorbell.value,
        "latitude": "",
        "longitude": "",
        "accepts_requests": True,
        "retention_days": DEFAULT_RETENTION_DAYS,
    }
    return _form_page(page, "cameras/new.html", values=values)


@router.post("/cameras/new", response_class=HTMLResponse)
def add_camera(
    page: ThisPage, user: PageUser, form: CheckedForm, settings: SettingsDep
) -> Response:
    values = _camera_values(form)
    return page.act(
        lambda: camera_registry.register_camera(
            session=page.session, owner=user, **dict(_parse_camera(values, CameraCreate))
        ),
        done=lambda registered: _token_page(
            page,
            settings.base_url,
            camera_registry.owner_view(registered[0]),
            registered[1],
            is_new=True,
        ),
        refused=page.refusal(_form_page, "cameras/new.html", values=values),
    )


def _zones_form(page: Page, user: User, camera_id: uuid.UUID) -> dict[str, Any]:
    """The privacy zones section: the still frame and the saved zones drawn on it."""
    session = page.session
    frame = camera_zones.still_frame(session=session, owner=user, camera_id=camera_id)
    camera = camera_zones.get_zones(session=session, owner=user, camera_id=camera_id)
    return {
        "frame": frame,
        "frame_src": f"/media/clips/{frame.clip_id}.jpg"
        if frame.clip_id
        else "/static/zone-frame.svg",
        "points": camera_zones.points_text(
            camera_zones.zones_on_frame(camera, frame.width, frame.height)
        ),
        "apply_at_ingest": camera.zones_at_ingest,
    }


def _camera_page(
    page: Page,
    camera: CameraRead,
    *,
    values: dict[str, Any] | None = None,
    zone_values: dict[str, Any] | None = None,
    zones_error: str | None = None,
) -> Response:
    zones = _zones_form(page, page.visitor.user, camera.id)
    return _form_page(
        page,
        "cameras/detail.html",
        values=values or camera.model_dump(mode="json"),
        camera=camera,
        zones={**zones, **(zone_values or {})},
        zones_error=zones_error,
        notice=page.notice(NOTICES),
    )


def _own_camera(session: Session, user: User, camera_id: uuid.UUID) -> CameraRead:
    """The owner's view of his camera; someone else's camera is a 404 like a missing one."""
    return camera_registry.owner_view(
        camera_registry.get_own_camera(session=session, owner=user, camera_id=camera_id)
    )


@router.get("/cameras/{camera_id}", response_class=HTMLResponse)
def camera_page(camera_id: uuid.UUID, page: ThisPage, user: PageUser) -> Response:
    return _camera_page(page, _own_camera(page.session, user, camera_id))


@router.post("/cameras/{camera_id}", response_class=HTMLResponse)
def update_camera(
    camera_id: uuid.UUID, page: ThisPage, user: PageUser, form: CheckedForm
) -> Response:
    current = _own_camera(page.session, user, camera_id)
    values = _camera_values(form)
    # In a savepoint: a refusal half-way leaves none of the form's changes behind.
    return page.act(
        lambda: camera_registry.update_camera(
            session=page.session,
            owner=user,
            camera_id=camera_id,
            **_parse_camera(values, CameraUpdate).model_dump(),
        ),
        done=lambda _: redirect(f"/cameras/{camera_id}?notice=camera_saved"),
        refused=page.refusal(_camera_page, current, values=values),
    )


@router.post("/cameras/{camera_id}/zones", response_class=HTMLResponse)
def save_zones(camera_id: uuid.UUID, page: ThisPage, user: PageUser, form: CheckedForm) -> Response:
    current = _own_camera(page.session, user, camera_id)
    points, apply_at_ingest = text(form.get("points")), checkbox(form.get("apply_at_ingest"))
    zone_values = {"points": points, "apply_at_ingest": apply_at_ingest}

    def save() -> object:
        return camera_zones.set_zones(
            session=page.session,
            owner=user,
            camera_id=camera_id,
            width=_whole(form.get("width")),
            height=_whole(form.get("height")),
            polygons=camera_zones.parse_points(points),
            apply_at_ingest=apply_at_ingest,
        )

    return page.act(
        save,
        done=lambda _: redirect(f"/cameras/{camera_id}?notice=zones_saved#zones"),
        refused=page.refusal(
            _camera_page, current, zone_values=zone_values, error_as="zones_error"
        ),
    )


def _whole(value: object) -> int:
    try:
        return int(text(value).strip())
    except ValueError:
        raise InvalidInput("The frame's size is missing.", code="invalid_frame") from None


@router.post("/cameras/{camera_id}/token/rotate", response_class=HTMLResponse)
def rotate_camera_token(
    camera_id: uuid.UUID, page: ThisPage, user: PageUser, form: CheckedForm, settings: SettingsDep
) -> Response:
    camera, token = camera_registry.rotate_camera_token(
        session=page.session, owner=user, camera_id=camera_id
    )
    view = camera_registry.owner_view(camera)
    return _token_page(page, settings.base_url, view, token, is_new=False)


@router.post("/cameras/{camera_id}/token/revoke")
def revoke_camera_token(
    camera_id: uuid.UUID, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    camera_registry.revoke_camera_token(session=session, owner=user, camera_id=camera_id)
    return redirect(f"/cameras/{camera_id}?notice=token_revoked")


@router.get("/cameras/{camera_id}/delete", response_class=HTMLResponse)
def delete_camera_confirm(camera_id: uuid.UUID, page: ThisPage, user: PageUser) -> Response:
    return page.show("cameras/delete.html", camera=_own_camera(page.session, user, camera_id))


@router.post("/cameras/{camera_id}/delete")
def delete_camera(
    camera_id: uuid.UUID,
    user: PageUser,
    form: CheckedForm,
    session: DbSession,
    runtime: RuntimeDep,
) -> Response:
    camera_registry.delete_camera(
        session=session, storage=runtime.storage, owner=user, camera_id=camera_id
    )
    return redirect("/cameras?notice=camera_deleted")


# ---------------------------------------------------------------- timeline and events


class _Filters(DayFilters):
    """The timeline's filters: a camera, event kinds and days."""

    def __init__(self, request: Request) -> None:
        super().__init__(request)
        params = request.query_params
        self.camera = params.get("camera", "")
        self.kinds = [k for k in params.getlist("kind") if k]

    def camera_id(self) -> uuid.UUID | None:
        if not self.camera:
            return None
        try:
            return uuid.UUID(self.camera)
        except ValueError as exc:
            raise InvalidInput("Choose a camera from the list.", code="invalid_camera") from exc

    def event_kinds(self) -> list[EventKind] | None:
        return chosen(EventKind, self.kinds, "event kinds", "invalid_kind")

    def choices(self) -> list[tuple[str, str]]:
        pairs = [("camera", self.camera)] if self.camera else []
        return pairs + [("kind", k) for k in self.kinds]


@router.get("/timeline", response_class=HTMLResponse)
def timeline(page: ReadPage, user: PageUser) -> Response:
    filters = _Filters(page.request)
    session = page.session
    events: list[EventRead] = []
    older: str | None = None
    own_cameras = camera_registry.list_cameras(session=session, owner=user)
    try:
        batch = camera_inbox.timeline(
            session=session,
            owner=user,
            camera_id=filters.camera_id(),
            kinds=filters.event_kinds(),
            limit=30,
            **filters.window(),
        )
    except DoorstepError as exc:
        page = page.refused(exc)
    else:
        events = [camera_inbox.event_view(*row) for row in batch.rows]
        if batch.next_cursor:
            older = f"/timeline?{filters.query(cursor=batch.next_cursor)}"
    return page.show(
        "cameras/timeline.html",
        events=events,
        older=older,
        filters=filters,
        cameras=[(c.id, c.name) for c in own_cameras],
        event_kinds=list(EventKind),
        notice=page.notice(NOTICES),
    )


def _event_page(page: Page, user: User, event_id: uuid.UUID, max_kept: int) -> Response:
    event = camera_inbox.event_view(
        *camera_inbox.get_own_event(session=page.session, owner=user, event_id=event_id)
    )
    return page.show(
        "cameras/event.html", event=event, max_kept=max_kept, notice=page.notice(NOTICES)
    )


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event_page(
    event_id: uuid.UUID, page: ThisPage, user: PageUser, settings: SettingsDep
) -> Response:
    return _event_page(page, user, event_id, settings.max_kept_clips)


@router.post("/events/{event_id}/keep", response_class=HTMLResponse)
def keep_event_clip(
    event_id: uuid.UUID, page: ThisPage, user: PageUser, form: CheckedForm, settings: SettingsDep
) -> Response:
    """Keep the event's clip (``keep=yes``) or stop keeping it (``keep=no``)."""
    _event, _camera, clip = camera_inbox.get_own_event(
        session=page.session, owner=user, event_id=event_id
    )
    clip_id = found(clip, "This event has no stored clip.", code="clip_not_found").id
    max_kept = settings.max_kept_clips
    act: Callable[[], Clip]
    if form.get("keep") == "no":
        act = partial(
            camera_keeps.stop_keeping_clip, session=page.session, owner=user, clip_id=clip_id
        )
        notice = "clip_unkept"
    else:
        act = partial(
            camera_keeps.keep_clip,
            session=page.session,
            owner=user,
            clip_id=clip_id,
            max_kept=max_kept,
        )
        notice = "clip_kept"
    return page.act(
        act,
        done=lambda _: redirect(f"/events/{event_id}?notice={notice}"),
        refused=page.refusal(_event_page, user, event_id, max_kept),
    )


@router.post("/events/{event_id}/delete")
def delete_event(
    event_id: uuid.UUID,
    user: PageUser,
    form: CheckedForm,
    session: DbSession,
    runtime: RuntimeDep,
) -> Response:
    camera_deletion.delete_event(
        session=session, storage=runtime.storage, owner=user, event_id=event_id
    )
    return redirect("/timeline?notice=event_deleted")
