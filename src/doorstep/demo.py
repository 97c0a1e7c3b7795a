"""The demo neighborhood: a few streets of homes with cameras and real MP4 clips."""

from __future__ import annotations

import ipaddress
import math
import random
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.accounts import two_factor
from doorstep.accounts.models import Role, User
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import AgencyType
from doorstep.cameras import clips as camera_clips
from doorstep.cameras import events as camera_events
from doorstep.cameras import inbox as camera_inbox
from doorstep.cameras import registry as camera_registry
from doorstep.cameras.models import CameraKind
from doorstep.config import Settings
from doorstep.db import utcnow
from doorstep.errors import Forbidden
from doorstep.footage import service as request_service
from doorstep.footage.models import IncidentType
from doorstep.media.kinds import EventKind
from doorstep.media.samples import write_sample_clip
from doorstep.media.video import ClipLimits
from doorstep.runtime import Runtime

DEMO_PASSWORD = "doorstep-demo"  # noqa: S105 (printed for the demo on purpose)
# The file ``doorstep demo`` leaves in its data dir once the demo is built: how the demo
# officer's code command tells the demo from any other instance.
DEMO_MARKER = "DOORSTEP-DEMO"
# A made-up neighborhood laid over a grid of streets (west Philadelphia's latitude).
CENTRE = (39.9560, -75.2020)
STREETS = ["Maple Street", "Cedar Avenue", "Walnut Lane", "Birch Road"]
HOMES_PER_STREET = 9
HOME_SPACING_M = 35.0
STREET_SPACING_M = 110.0

ACCOUNTS = {
    "resident": ("resident@example.org", "Rosa Resident", Role.resident),
    "officer": ("officer@example.org", "Officer Olsen", Role.agency_member),
    "moderator": ("moderator@example.org", "Mo Moderator", Role.moderator),
    "admin": ("admin@example.org", "Ada Admin", Role.admin),
}
CLIP_KINDS = [EventKind.motion, EventKind.person, EventKind.package, EventKind.vehicle]


def _offset(lat: float, lng: float, north_m: float, east_m: float) -> tuple[float, float]:
    dlat = north_m / 111_320.0
    dlng = east_m / (111_320.0 * math.cos(math.radians(lat)))
    return lat + dlat, lng + dlng


def homes() -> list[tuple[str, float, float]]:
    """(address, latitude, longitude) of every demo home, along parallel streets."""
    out = []
    for s, street in enumerate(STREETS):
        for h in range(HOMES_PER_STREET):
            north = (s - (len(STREETS) - 1) / 2) * STREET_SPACING_M + (12 if h % 2 else -12)
            east = (h - HOMES_PER_STREET / 2) * HOME_SPACING_M
            lat, lng = _offset(*CENTRE, north, east)
            out.append((f"{100 + 2 * h + (h % 2)} {street}", lat, lng))
    return out


def _demo_user(session: Session, email: str, name: str, role: Role = Role.resident) -> User:
    user = account_service.create_user(
        session=session,
        actor=None,
        email=email,
        display_name=name,
        password=DEMO_PASSWORD,
        role=role,
    )
    # The demo has no mail server; in-app alerts only.
    account_service.update_preferences(session=session, user=user, email=False)
    return user


def _create_people(runtime: Runtime) -> tuple[dict[str, User], list[User]]:
    """The demo accounts by role, and the camera owners: the resident, then 11 neighbors."""
    with runtime.db.transaction() as session:
        people = {
            role: _demo_user(session, email, name, user_role)
            for role, (email, name, user_role) in ACCOUNTS.items()
        }
    owners = [people["resident"]]
    with runtime.db.transaction() as session:
        for n in range(1, 12):
            owners.append(_demo_user(session, f"neighbor{n}@example.org", f"Neighbor {n}"))
    return people, owners


def _sample_clips(folder: Path, seed: int) -> list[Path]:
    return [
        write_sample_clip(
            folder / f"sample{i}.mp4",
            seconds=3.0,
            width=480,
            height=270,
            fps=12,
            motion=(0.6, 2.4),
            seed=seed + i,
        )
        for i in range(4)
    ]


@dataclass(frozen=True)
class _Seeding:
    """What every demo camera is seeded from; the random draws follow a fixed order."""

    runtime: Runtime
    rng: random.Random
    limits: ClipLimits
    samples: list[Path]
    now: datetime
    clips_per_camera: int


def _seed_camera(
    seeding: _Seeding, owner: User, o: int, k: int, kind: CameraKind, home: tuple[str, float, float]
) -> None:
    """Owner number ``o``'s camera number ``k`` at ``home``, with its clips and one event
    kept on the device."""
    runtime, rng = seeding.runtime, seeding.rng
    address, lat, lng = home
    with runtime.db.transaction() as session:
        camera, _token = camera_registry.register_camera(
            session=session,
            owner=session.merge(owner),
            name=f"{address} {'front door' if k == 0 else 'driveway'}",
            kind=kind,
            latitude=lat + 0.00004 * k,
            longitude=lng + 0.00003 * k,
            accepts_requests=o == 0 or rng.random() > 0.15,
            retention_days=rng.choice([30, 60, 90]),
        )
    for c in range(seeding.clips_per_camera if o < 6 else 1):
        started = seeding.now - timedelta(hours=rng.uniform(1, 24 * 6))
        with runtime.db.transaction() as session:
            camera_clips.ingest_clip(
                session=session,
                storage=runtime.storage,
                limits=seeding.limits,
                camera=session.merge(camera),
                file_path=seeding.samples[(o + c) % 4],
                started_at=started,
                kind=rng.choice(CLIP_KINDS),
                instance_zone=runtime.settings.time_zone,
            )
    with runtime.db.transaction() as session:
        camera_events.report_device_event(
            session=session,
            camera=session.merge(camera),
            kind=EventKind.motion,
            started_at=seeding.now - timedelta(hours=rng.uniform(1, 48)),
            ended_at=None,
            device_ref=f"sd:/DCIM/{o:03d}{k}.mp4",
            max_duration_s=runtime.settings.max_clip_duration_s,
            alert_window_s=runtime.settings.event_alert_window_s,
        )


def seed_demo(runtime: Runtime, *, clips_per_camera: int = 3, seed: int = 7) -> dict[str, str]:
    """Create the demo once (idempotent); returns role -> email of the demo accounts."""
    emails = {role: spec[0] for role, spec in ACCOUNTS.items()}
    with runtime.db.transaction() as session:
        if session.scalar(select(User.id).where(User.email == emails["resident"])):
            return emails
    rng = random.Random(seed)
    limits = ClipLimits.from_settings(runtime.settings)
    people, owners = _create_people(runtime)
    all_homes = homes()
    rng.shuffle(all_homes)
    with tempfile.TemporaryDirectory(prefix="doorstep-demo-") as tmp:
        seeding = _Seeding(
            runtime, rng, limits, _sample_clips(Path(tmp), seed), utcnow(), clips_per_camera
        )
        for o, (owner, home) in enumerate(zip(owners, all_homes, strict=False)):
            kinds = (
                [CameraKind.doorbell, CameraKind.floodlight] if o == 0 else [CameraKind.doorbell]
            )
            for k, kind in enumerate(kinds):
                _seed_camera(seeding, owner, o, k, kind, home)
    _seed_agency_and_request(runtime, people)
    return emails


def _square(lat: float, lng: float, half_side_m: float) -> dict[str, object]:
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)]
    ring = [
        list(reversed(_offset(lat, lng, dy * half_side_m, dx * half_side_m))) for dx, dy in corners
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def _seed_agency_and_request(runtime: Runtime, people: dict[str, User]) -> None:
    """A verified demo police department whose officer (with two-factor sign-in) sent one
    footage request, reviewed by the moderator, that asks the demo resident among others."""
    with runtime.db.transaction() as session:
        officer = session.get_one(User, people["officer"].id)
        agency = agency_service.apply_for_agency(
            session=session,
            applicant=officer,
            name="Maple Grove Police Department",
            agency_type=AgencyType.police,
            city="Maple Grove",
            state="PA",
            jurisdiction=_square(*CENTRE, 3000),
            contact_email="records@example.org",
            website="https://maple-grove.example.org",
        )
        agency_service.change_status(
            session=session,
            actor=session.get_one(User, people["admin"].id),
            agency_id=agency.id,
            action="verify",
            reason=None,
        )
        uri = two_factor.begin_totp_setup(session=session, user=officer)
        two_factor.confirm_totp_setup(
            session=session, user=officer, code=pyotp.TOTP(pyotp.parse_uri(uri).secret).now()
        )
    with runtime.db.transaction() as session:
        resident = session.get_one(User, people["resident"].id)
        page = camera_inbox.timeline(session=session, owner=resident, on_device=False, limit=1)
        if not page.rows:
            return
        event, camera, _clip = page.rows[0]
        request = request_service.draft_request(
            session=session,
            actor=session.get_one(User, people["officer"].id),
            area=_square(camera.exact_latitude, camera.exact_longitude, 300),
            circle=None,
            window_start=event.started_at - timedelta(minutes=30),
            window_end=event.started_at + timedelta(minutes=30),
            case_number="MG-2026-0117",
            incident_type=IncidentType.package_theft,
            message="Packages were taken from several porches on this block. Footage of "
            "anyone carrying boxes along the street in this hour may help.",
            investigator_contact="Det. Olsen, records@example.org",
        )
        request_service.submit_request(
            session=session,
            actor=session.get_one(User, people["officer"].id),
            request_id=request.id,
        )
        request_service.review_request(
            session=session,
            actor=session.get_one(User, people["moderator"].id),
            request_id=request.id,
            approve=True,
            note="Specific incident, small area, short window.",
        )


def officer_totp_secret(runtime: Runtime) -> str | None:
    """The demo officer's two-factor secret, printed so a person can try the agency side."""
    with runtime.db.transaction() as session:
        return session.scalar(select(User.totp_secret).where(User.email == ACCOUNTS["officer"][0]))


def mark_demo(data_dir: Path) -> None:
    """Leave the marker that says this data dir holds the demo (see ``is_demo``)."""
    (data_dir / DEMO_MARKER).write_text(
        "Built by `doorstep demo`: its accounts and passwords are public.\n", encoding="utf-8"
    )


def is_demo(settings: Settings) -> bool:
    """Whether these settings are the demo's: its data dir carries the marker that
    ``doorstep demo`` leaves, and the database is that dir's own SQLite (no database URL
    set, as the demo never sets one). A real instance has neither."""
    return not settings.database_url and (settings.data_dir / DEMO_MARKER).is_file()


def officer_code(settings: Settings, email: str | None = None) -> str:
    """The demo officer's current two-factor code, for the demo only and for no other
    account (``email``, when given, must be the demo officer's). Nothing is opened
    before both are checked."""
    officer_email = ACCOUNTS["officer"][0]
    if not is_demo(settings):
        raise Forbidden(
            "This is not the demo: codes are shown only for the demo built by `doorstep demo`.",
            code="not_the_demo",
        )
    if email is not None and email.strip().lower() != officer_email:
        raise Forbidden(
            f"Codes are shown only for the demo officer ({officer_email}).",
            code="not_the_demo_officer",
        )
    runtime = Runtime(settings)
    try:
        secret = officer_totp_secret(runtime)
    finally:
        runtime.close()
    if not secret:
        raise Forbidden("The demo officer has no two-factor sign-in.", code="no_second_factor")
    return pyotp.TOTP(secret).now()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serving_environment(
    *, data_dir: Path, host: str, port: int, environ: Mapping[str, str]
) -> dict[str, str]:
    """The ``DOORSTEP_`` settings the demo adds to ``environ`` (which wins where it has
    one): its data dir, the address it serves as its base URL, and session cookies
    without Secure when that is plain http on a loopback address, since HTTP clients
    other than browsers (httpx, requests, curl) do not send Secure cookies over http.
    An https base URL keeps them Secure; an address other than loopback does too."""
    base_url = environ.get("DOORSTEP_BASE_URL") or f"http://{_url_host(host)}:{port}"
    env = {"DOORSTEP_DATA_DIR": str(data_dir), "DOORSTEP_BASE_URL": base_url}
    served = urlsplit(base_url)
    if served.scheme == "http" and _is_loopback(host) and _is_loopback(served.hostname or ""):
        env["DOORSTEP_COOKIE_SECURE"] = "false"
    return {name: value for name, value in env.items() if name not in environ}


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
