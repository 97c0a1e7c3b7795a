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


def enable_totp(runtime: Runtime, person: Person) -> str:
    """Turn on two-factor sign-in for a person; returns the TOTP secret.

    Turning it on revokes the person's password-only token, so ``person.token`` becomes
    a new one issued with the second factor (as ``POST /api/v1/tokens`` with a code would).
    """
    import pyotp

    with runtime.db.transaction() as session:
        user = session.merge(person.user)
        uri = account_service.begin_totp_setup(session=session, user=user)
        secret: str = pyotp.parse_uri(uri).secret
        account_service.confirm_totp_setup(session=session, user=user,
                                           code=pyotp.TOTP(secret).now())
        _row, person.token = account_service.create_api_token(
            session=session, user=user, name="tests (two-factor)", with_second_factor=True
        )
        person.user = user
    return secret


def square(lat: float, lng: float, half_side_m: float) -> dict[str, Any]:
    """A GeoJSON square around a point."""
    dlat = half_side_m / 111_320.0
    import math

    dlng = half_side_m / (111_320.0 * math.cos(math.radians(lat)))
    ring = [[lng - dlng, lat - dlat], [lng + dlng, lat - dlat], [lng + dlng, lat + dlat],
            [lng - dlng, lat + dlat], [lng - dlng, lat - dlat]]
    return {"type": "Polygon", "coordinates": [ring]}


def make_agency(runtime: Runtime, *, applicant: Person | None = None, name: str = "Testville PD",
                lat: float = 39.9526, lng: float = -75.1652, verify: bool = True) -> Any:
    """A verified agency whose admin (the applicant) has two-factor sign-in."""
    from doorstep.agencies import service as agency_service
    from doorstep.agencies.models import AgencyType

    applicant = applicant or make_person(runtime)
    enable_totp(runtime, applicant)
    admin = make_person(runtime, role=Role.admin)
    with runtime.db.transaction() as session:
        agency = agency_service.apply_for_agency(
            session=session, applicant=session.merge(applicant.user), name=name,
            agency_type=AgencyType.police, city="Testville", state="PA",
            jurisdiction=square(lat, lng, 5000), contact_email="records@testville.example.org",
            website="https://testville.example.org",
        )
        if verify:
            agency_service.change_status(session=session, actor=session.merge(admin.user),
                                         agency_id=agency.id, action="verify", reason=None)
    return agency


def make_officer(runtime: Runtime, agency: Any, *, role: str = "officer") -> Person:
    """A member of ``agency`` with two-factor sign-in on."""
    from doorstep.agencies.models import AgencyMembership, MemberRole

    person = make_person(runtime, role=Role.agency_member)
    enable_totp(runtime, person)
    with runtime.db.transaction() as session:
        # Joining is tested through invitations; here the membership is the fixture.
        session.add(AgencyMembership(agency_id=agency.id, user_id=person.user.id,
                                     role=MemberRole(role)))
    return person


def request_body(lat: float, lng: float, *, half_side_m: float = 300.0,
                 hours_ago: tuple[float, float] = (3.0, 1.0), **over: Any) -> dict[str, Any]:
    now = utcnow()
    body: dict[str, Any] = {
        "area": square(lat, lng, half_side_m),
        "window_start": (now - timedelta(hours=hours_ago[0])).isoformat(),
        "window_end": (now - timedelta(hours=hours_ago[1])).isoformat(),
        "case_number": "2026-001234",
        "incident_type": "burglary",
        "message": "A house on this block was broken into in the afternoon. Footage of people "
                   "walking by may help the investigation.",
        "investigator_contact": "Det. Rivera, (555) 010-0000",
    }
    body.update(over)
    return body
