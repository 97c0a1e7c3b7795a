"""Factories: real objects built through the services, never raw rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from doorstep.accounts import service as account_service
from doorstep.accounts.models import Role, User
from doorstep.cameras import service as camera_service
from doorstep.cameras.models import Camera, CameraKind
from doorstep.db import utcnow
from doorstep.media.samples import write_sample_clip
from doorstep.runtime import Runtime

PASSWORD = "correct horse battery"


@dataclass
class Person:
    user: User
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


_counter = iter(range(1, 10**9))


def make_person(
    runtime: Runtime, *, role: Role = Role.resident, email: str | None = None
) -> Person:
    n = next(_counter)
    with runtime.db.transaction() as session:
        user = account_service.create_user(
            session=session,
            actor=None,
            email=email or f"person{n}@example.org",
            display_name=f"Person {n}",
            password=PASSWORD,
            role=role,
        )
        _row, token = account_service.create_api_token(session=session, user=user, name="tests")
    return Person(user=user, token=token)


@dataclass
class CameraWithToken:
    camera: Camera
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_camera(
    runtime: Runtime,
    owner: User,
    *,
    latitude: float = 39.9526,
    longitude: float = -75.1652,
    **kwargs: Any,
) -> CameraWithToken:
    with runtime.db.transaction() as session:
        camera, token = camera_service.register_camera(
            session=session,
            owner=owner,
            name=kwargs.pop("name", "Front door"),
            kind=kwargs.pop("kind", CameraKind.doorbell),
            latitude=latitude,
            longitude=longitude,
            **kwargs,
        )
    return CameraWithToken(camera=camera, token=token)


def sample_clip(directory: Path, name: str = "clip.mp4", **kwargs: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return write_sample_clip(directory / name, **kwargs)


def upload_clip(
    client: TestClient,
    cam: CameraWithToken,
    path: Path,
    *,
    started_at: datetime | None = None,
    kind: str = "motion",
    token: str | None = None,
) -> Any:
    started = started_at or (utcnow() - timedelta(minutes=5))
    with path.open("rb") as fh:
        return client.post(
            f"/api/v1/cameras/{cam.camera.id}/clips",
            headers={"Authorization": f"Bearer {token or cam.token}"},
            data={"started_at": started.isoformat(), "kind": kind},
            files={"file": (path.name, fh, "video/mp4")},
        )
