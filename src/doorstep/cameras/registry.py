"""The camera registry: an owner's cameras, their positions and their ingest tokens.

Privacy: a camera's exact position leaves this package only through :func:`owner_view`
(the owner's own view). Everything else gets the coarse cell.

Other domains: the owner arrives as an accounts ``User`` (its id and nothing more is
read); no query here reads another domain's table.
"""

from __future__ import annotations

import uuid

import h3
from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from doorstep import audit, geo
from doorstep.accounts.models import User
from doorstep.accounts.service import AuditTrail
from doorstep.cameras.deletion import delete_files_after_commit
from doorstep.cameras.models import Camera, CameraKind, Clip, MotionEvent
from doorstep.cameras.schemas import CameraRead
from doorstep.db import utcnow
from doorstep.errors import InvalidInput, Unauthenticated, found
from doorstep.media.storage import MediaStorage
from doorstep.security import constant_time_equals, new_token, token_digest
from doorstep.views import view_of

CAMERA_TOKEN_PREFIX = "dsc"  # noqa: S105 (a label, not a secret)


def _set_position(camera: Camera, latitude: float, longitude: float) -> None:
    geo.check_position(latitude, longitude)
    camera.exact_latitude, camera.exact_longitude = latitude, longitude
    camera.index_cell = geo.cell_of(latitude, longitude, geo.INDEX_RESOLUTION)
    camera.coarse_cell = geo.parent_cell(camera.index_cell, geo.COARSE_RESOLUTION)


def _check_retention(days: int) -> None:
    if not 1 <= days <= 365:
        raise InvalidInput("Retention is between 1 and 365 days.", code="invalid_retention")


_CAMERAS = AuditTrail("camera")


def _audit_camera(
    session: Session, owner: User, camera: Camera, action: audit.AuditAction, **details: object
) -> None:
    """Append the owner's action on his camera to the audit log, in the caller's transaction."""
    _CAMERAS.record(session, owner, action, camera.id, **details)


def register_camera(
    *,
    session: Session,
    owner: User,
    name: str,
    kind: CameraKind,
    latitude: float,
    longitude: float,
    accepts_requests: bool = True,
    retention_days: int = 60,
) -> tuple[Camera, str]:
    """Add a camera for its owner; returns it with its ingest token (shown once, stored hashed)."""
    _check_retention(retention_days)
    camera = Camera(
        owner_id=owner.id,
        name=name.strip(),
        kind=kind,
        accepts_requests=accepts_requests,
        retention_days=retention_days,
    )
    _set_position(camera, latitude, longitude)
    session.add(camera)
    session.flush()
    token = _issue_token(camera)
    _audit_camera(session, owner, camera, audit.AuditAction.CAMERA_REGISTERED)
    session.flush()
    return camera, token


def _issue_token(camera: Camera) -> str:
    token = new_token(CAMERA_TOKEN_PREFIX)
    camera.token_hash = token_digest(token)
    camera.token_prefix = token[:10]
    camera.token_created_at = utcnow()
    return token


def readable_cameras(*, actor: User) -> Select[Camera]:
    """The cameras this actor may see in full: only his own."""
    return select(Camera).where(Camera.owner_id == actor.id)


def owns_cameras(*, session: Session, owner: User) -> bool:
    """Whether this user has at least one camera of his own."""
    first = readable_cameras(actor=owner).with_only_columns(Camera.id).limit(1)
    return session.scalar(first) is not None


def list_cameras(*, session: Session, owner: User) -> list[Camera]:
    return list(session.scalars(readable_cameras(actor=owner).order_by(Camera.created_at)))


def get_own_camera(*, session: Session, owner: User, camera_id: uuid.UUID) -> Camera:
    """The owner's camera, or 404 (whether it exists or belongs to someone else)."""
    return found(
        session.scalar(readable_cameras(actor=owner).where(Camera.id == camera_id)),
        "No such camera.",
        code="camera_not_found",
    )


def update_camera(
    *,
    session: Session,
    owner: User,
    camera_id: uuid.UUID,
    name: str | None = None,
    kind: CameraKind | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
    accepts_requests: bool | None = None,
    retention_days: int | None = None,
) -> Camera:
    camera = get_own_camera(session=session, owner=owner, camera_id=camera_id)
    if (latitude is None) != (longitude is None):
        raise InvalidInput("Send latitude and longitude together.", code="invalid_position")
    if name is not None:
        camera.name = name.strip()
    if kind is not None:
        camera.kind = kind
    if latitude is not None and longitude is not None:
        _set_position(camera, latitude, longitude)
    if accepts_requests is not None:
        camera.accepts_requests = accepts_requests
    if retention_days is not None:
        _check_retention(retention_days)
        camera.retention_days = retention_days
    session.flush()
    return camera


def rotate_camera_token(
    *, session: Session, owner: User, camera_id: uuid.UUID
) -> tuple[Camera, str]:
    """A new ingest token; the old one stops working at once. Audited."""
    camera = get_own_camera(session=session, owner=owner, camera_id=camera_id)
    token = _issue_token(camera)
    _audit_camera(session, owner, camera, audit.AuditAction.CAMERA_TOKEN_ROTATED)
    session.flush()
    return camera, token


def revoke_camera_token(*, session: Session, owner: User, camera_id: uuid.UUID) -> Camera:
    camera = get_own_camera(session=session, owner=owner, camera_id=camera_id)
    camera.token_hash = None
    camera.token_prefix = None
    _audit_camera(session, owner, camera, audit.AuditAction.CAMERA_TOKEN_REVOKED)
    session.flush()
    return camera


def authenticate_camera(*, session: Session, camera_id: uuid.UUID, token: str | None) -> Camera:
    """The camera a device speaks for; a missing, wrong or revoked token is 401."""
    return check_camera_token(session.get(Camera, camera_id), token)


def cameras_by_id(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, Camera]:
    """These cameras (those that exist), in one query."""
    return {c.id: c for c in session.scalars(select(Camera).where(Camera.id.in_(ids)))}


def check_camera_token(camera: Camera | None, token: str | None) -> Camera:
    """``camera`` when ``token`` is its ingest token (read once for many devices' requests,
    see ``ingest_groups``); a missing, wrong or revoked token, or no camera, is 401."""
    if (
        not token
        or camera is None
        or camera.token_hash is None
        or not constant_time_equals(camera.token_hash, token_digest(token))
    ):
        raise Unauthenticated(
            "This camera token is not valid or was revoked.", code="invalid_camera_token"
        )
    return camera


def delete_camera(
    *, session: Session, storage: MediaStorage, owner: User, camera_id: uuid.UUID
) -> int:
    """Remove a camera with its clips: their files leave storage once this transaction
    commits (not before: a rollback keeps the camera and its files), not just the view."""
    camera = get_own_camera(session=session, owner=owner, camera_id=camera_id)
    clips = list(session.scalars(select(Clip).where(Clip.camera_id == camera.id)))
    for clip in clips:
        delete_files_after_commit(session, storage, clip)
    session.execute(delete(MotionEvent).where(MotionEvent.camera_id == camera.id))
    session.execute(delete(Clip).where(Clip.camera_id == camera.id))
    _audit_camera(session, owner, camera, audit.AuditAction.CAMERA_DELETED, clips=len(clips))
    session.delete(camera)
    session.flush()
    return len(clips)


def owner_view(camera: Camera) -> CameraRead:
    """The owner's view: the one place the exact position is put into a response."""
    return view_of(
        CameraRead,
        camera,
        latitude=camera.exact_latitude,
        longitude=camera.exact_longitude,
        coarse_cell=h3.int_to_str(camera.coarse_cell),
        token_active=camera.token_hash is not None,
    )
