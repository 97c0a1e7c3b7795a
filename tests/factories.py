"""What tests share, in one module: factories that build real objects through the
services (never raw rows), driving the pages (CSRF, form errors, signing in, with the
second factor when the account has one, in a TestClient or in Chromium), the agency
member with two-factor sign-in, and the footage request flow."""

from __future__ import annotations

import html
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pyotp
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from doorstep import geo
from doorstep.accounts import api_tokens, two_factor
from doorstep.accounts import service as account_service
from doorstep.accounts.models import Role, User
from doorstep.cameras import registry as camera_registry
from doorstep.cameras.models import Camera, CameraKind
from doorstep.db import utcnow
from doorstep.feed import homes
from doorstep.feed import service as feed_service
from doorstep.feed.models import Category, Post
from doorstep.feed.schemas import PersonFields
from doorstep.media.samples import write_sample_clip
from doorstep.notify.models import Notification
from doorstep.runtime import Runtime

if TYPE_CHECKING:
    from playwright.sync_api import Page

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
        _row, token = api_tokens.create_api_token(session=session, user=user, name="tests")
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
        camera, token = camera_registry.register_camera(
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


def report_event(
    client: TestClient | httpx.Client, cam: CameraWithToken, started_at: datetime, **extra: Any
) -> dict[str, Any]:
    """The camera reports a 30 s motion event (kept on the device) starting at ``started_at``."""
    r = client.post(
        f"/api/v1/cameras/{cam.camera.id}/events",
        headers=cam.headers,
        json={
            "kind": "motion",
            "started_at": started_at.isoformat(),
            "ended_at": (started_at + timedelta(seconds=30)).isoformat(),
            **extra,
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def enable_totp(runtime: Runtime, person: Person) -> str:
    """Turn on two-factor sign-in for a person; returns the TOTP secret.

    Turning it on revokes the person's password-only token, so ``person.token`` becomes
    a new one issued with the second factor (as ``POST /api/v1/tokens`` with a code would).
    """
    with runtime.db.transaction() as session:
        user = session.merge(person.user)
        uri = two_factor.begin_totp_setup(session=session, user=user)
        secret: str = pyotp.parse_uri(uri).secret
        two_factor.confirm_totp_setup(session=session, user=user, code=pyotp.TOTP(secret).now())
        _row, person.token = api_tokens.create_api_token(
            session=session, user=user, name="tests (two-factor)", with_second_factor=True
        )
        person.user = user
    return secret


def square(lat: float, lng: float, half_side_m: float) -> dict[str, Any]:
    """A GeoJSON square around a point."""
    dlat = half_side_m / 111_320.0
    import math

    dlng = half_side_m / (111_320.0 * math.cos(math.radians(lat)))
    ring = [
        [lng - dlng, lat - dlat],
        [lng + dlng, lat - dlat],
        [lng + dlng, lat + dlat],
        [lng - dlng, lat + dlat],
        [lng - dlng, lat - dlat],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def make_agency(
    runtime: Runtime,
    *,
    applicant: Person | None = None,
    name: str = "Testville PD",
    lat: float = 39.9526,
    lng: float = -75.1652,
    verify: bool = True,
) -> Any:
    """A verified agency whose admin (the applicant) has two-factor sign-in."""
    from doorstep.agencies import service as agency_service
    from doorstep.agencies.models import AgencyType

    applicant = applicant or make_person(runtime)
    enable_totp(runtime, applicant)
    admin = make_person(runtime, role=Role.admin)
    with runtime.db.transaction() as session:
        agency = agency_service.apply_for_agency(
            session=session,
            applicant=session.merge(applicant.user),
            name=name,
            agency_type=AgencyType.police,
            city="Testville",
            state="PA",
            jurisdiction=square(lat, lng, 5000),
            contact_email="records@testville.example.org",
            website="https://testville.example.org",
        )
        if verify:
            agency_service.change_status(
                session=session,
                actor=session.merge(admin.user),
                agency_id=agency.id,
                action="verify",
                reason=None,
            )
    return agency


def make_officer(runtime: Runtime, agency: Any, *, role: str = "officer") -> Person:
    """A member of ``agency`` with two-factor sign-in on."""
    from doorstep.agencies.models import AgencyMembership, MemberRole

    person = make_person(runtime, role=Role.agency_member)
    enable_totp(runtime, person)
    with runtime.db.transaction() as session:
        # Joining is tested through invitations; here the membership is the fixture.
        session.add(
            AgencyMembership(agency_id=agency.id, user_id=person.user.id, role=MemberRole(role))
        )
    return person


def request_body(
    lat: float,
    lng: float,
    *,
    half_side_m: float = 300.0,
    hours_ago: tuple[float, float] = (3.0, 1.0),
    **over: Any,
) -> dict[str, Any]:
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


# ---------------------------------------------------------------- pages

HTML = {"accept": "text/html"}


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1)


def form_error(page: str) -> str:
    """The form's error message, as the person reads it (entities decoded)."""
    match = re.search(r'class="error" role="alert">([^<]*)<', page)
    return html.unescape(match.group(1)) if match else ""


def browser(client: TestClient) -> TestClient:
    """Another browser (its own cookies) on the same app: one per person in a test."""
    return TestClient(client.app, base_url="https://testserver")


def codes_around_now(secret: str) -> dict[int, str]:
    """The TOTP codes of the previous, current and next 30-second steps."""
    totp, now = pyotp.TOTP(secret), time.time()
    return {drift: totp.at(now + 30 * drift) for drift in (-1, 0, 1)}


def turn_on_two_factor_in_pages(client: TestClient, runtime: Runtime) -> str:
    """Turn on two-factor sign-in through the account pages, checking each step as the
    person sees it; returns the TOTP secret."""
    page = client.get("/account/2fa", headers=HTML)
    r = client.post("/account/2fa/setup", data={"csrf_token": csrf_of(page.text)})
    assert r.status_code == 200 and "<svg" in r.text
    assert r.headers["cache-control"] == "no-store"
    secret = re.search(r'class="secret">([A-Z2-7 ]+)<', r.text).group(1).replace(" ", "")  # type: ignore[union-attr]
    r = client.post(
        "/account/2fa/confirm",
        data={"csrf_token": csrf_of(page.text), "code": "12345"},
        headers=HTML,
    )
    assert r.status_code == 400 and "not right" in form_error(r.text)
    # The current step; later uses take the next step's code (accepted: one step of drift),
    # so they are never a replay of this one, even when a step boundary passes meanwhile.
    r = client.post(
        "/account/2fa/confirm",
        data={"csrf_token": csrf_of(page.text), "code": codes_around_now(secret)[0]},
        follow_redirects=False,
    )
    # The recovery codes are shown in the answer itself, once, and never cached.
    assert r.status_code == 200 and "Two-factor sign-in is on" in r.text
    assert r.headers["cache-control"] == "no-store"
    assert len(re.findall(r"<li><code>[a-z2-7]{4}(?:-[a-z2-7]{4}){3}</code></li>", r.text)) == 10
    return secret


def next_code(runtime: Runtime, email: str) -> str | None:
    """A second-factor code for the account, or None when it has no second factor. The
    code is the next step's: the setup used the current one, and a code is not replayed."""
    with runtime.db.transaction() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        secret = user.totp_secret if user.totp_enabled else None
    return codes_around_now(secret)[1] if secret else None


def submit_sign_in(
    client: TestClient, email: str, password: str = PASSWORD, next: str = ""
) -> Response:
    """Post the sign-in form once, as typed; the answer is returned unchecked."""
    page = client.get(f"/signin?next={next}" if next else "/signin", headers=HTML)
    answer: Response = client.post(
        "/signin",
        data={"csrf_token": csrf_of(page.text), "email": email, "password": password, "next": next},
        headers=HTML,
        follow_redirects=False,
    )
    return answer


def _email_of(who: Person | str) -> str:
    return who if isinstance(who, str) else who.user.email


def sign_in(client: TestClient, who: Person | str, runtime: Runtime | None = None) -> str:
    """Sign in through the pages, with the second factor when the account has one (pass
    the runtime to read its secret); returns the session's CSRF token. Once per person
    and test: a second-factor code is not accepted twice."""
    email = _email_of(who)
    r = submit_sign_in(client, email)
    assert r.status_code == 303, r.text
    if r.headers["location"].startswith("/signin/2fa"):
        assert runtime is not None, "this account has two-factor sign-in: pass the runtime"
        code = next_code(runtime, email)
        assert code is not None
        page = client.get("/signin/2fa", headers=HTML)
        r = client.post(
            "/signin/2fa",
            data={"csrf_token": csrf_of(page.text), "code": code, "next": "/account"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
    return csrf_of(client.get("/account", headers=HTML).text)


def sign_in_browser(page: Page, who: Person | str, runtime: Runtime | None = None) -> None:
    """Sign in through the form in Chromium (the second factor too when the account has
    one: pass the runtime); lands on the timeline, an agency member on his agency's page."""
    from playwright.sync_api import expect

    email = _email_of(who)
    page.goto("/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    code = next_code(runtime, email) if runtime is not None else None
    if code is not None:
        expect(page).to_have_url(re.compile(r"/signin/2fa"))
        page.get_by_label("Code").fill(code)
        page.get_by_role("button", name="Continue").click()
    officer = not isinstance(who, str) and who.user.role == Role.agency_member
    expect(page).to_have_url(re.compile(r"/agency$" if officer else r"/timeline$"))
    menu = page.get_by_role("button", name="Menu")
    if menu.is_visible():  # a phone: the navigation is behind its menu button
        menu.click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


# ---------------------------------------------------------------- footage requests


def set_policy(runtime: Runtime, **changes: Any) -> None:
    """Change the instance policy as an administrator (moderator_review=False: a submitted
    request goes out at once)."""
    from doorstep.footage import policy as policy_service

    admin = make_person(runtime, role=Role.admin)
    with runtime.db.transaction() as session:
        policy_service.change_policy(
            session=session,
            actor=session.merge(admin.user),
            changes=changes,
            reason="test setup",
        )


def active_request(
    runtime: Runtime, officer: Person, *, lat: float, lng: float, **over: Any
) -> uuid.UUID:
    """A request drafted and submitted through the services; active at once when the
    policy asks for no review (see :func:`set_policy`)."""
    from doorstep.footage import service as request_service
    from doorstep.footage.models import IncidentType

    body = request_body(lat, lng, **over)
    with runtime.db.transaction() as session:
        actor = session.get(User, officer.user.id)
        assert actor is not None
        drafted = request_service.draft_request(
            session=session,
            actor=actor,
            area=body["area"],
            circle=None,
            window_start=datetime.fromisoformat(body["window_start"]),
            window_end=datetime.fromisoformat(body["window_end"]),
            case_number=body["case_number"],
            incident_type=IncidentType(body["incident_type"]),
            message=body["message"],
            investigator_contact=body["investigator_contact"],
        )
        request_service.submit_request(session=session, actor=actor, request_id=drafted.id)
        return drafted.id


def send_request(
    client: TestClient, officer: Person, *, lat: float, lng: float, **over: Any
) -> tuple[str, dict[str, Any]]:
    """Draft and submit a request through the API; with moderator review off it goes out
    at once. Returns its id and the body sent."""
    body = request_body(lat, lng, **over)
    r = client.post("/api/v1/requests", headers=officer.headers, json=body)
    assert r.status_code == 201, r.text
    request_id = str(r.json()["id"])
    r = client.post(f"/api/v1/requests/{request_id}/submit", headers=officer.headers)
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    return request_id, body


# ---------------------------------------------------------------- feed

# Philadelphia, City Hall: a home with more digits than any cell centre shares.
HOME_LAT, HOME_LNG = 39.952345678, -75.163456789


def set_home(
    runtime: Runtime,
    person: Person,
    *,
    lat: float = HOME_LAT,
    lng: float = HOME_LNG,
    radius_mi: float = 1.0,
    alerts: list[Category] | None = None,
) -> None:
    with runtime.db.transaction() as session:
        homes.set_home(
            session=session,
            owner=session.merge(person.user),
            latitude=lat,
            longitude=lng,
            radius_mi=radius_mi,
            alert_categories=alerts or [],
        )


def make_post(
    runtime: Runtime,
    author: Person,
    *,
    title: str = "Fence knocked over on the corner",
    body: str = "Someone drove into the fence overnight; watch out for the boards.",
    category: Category = Category.safety,
    lat: float | None = None,
    lng: float | None = None,
    person: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Post:
    with runtime.db.transaction() as session:
        return feed_service.create_post(
            session=session,
            author=session.merge(author.user),
            category=category,
            title=title,
            body=body,
            person=PersonFields(**person) if person else None,
            latitude=lat,
            longitude=lng,
            **kwargs,
        )


def post_at_cell(runtime: Runtime, author: Person, cell: int, **kwargs: Any) -> Post:
    """A post whose area is exactly ``cell`` (placed at the cell's centre)."""
    lat, lng = geo.cell_center(cell)
    return make_post(runtime, author, lat=lat, lng=lng, **kwargs)


def notifications(runtime: Runtime, person: Person) -> list[Notification]:
    with runtime.db.transaction() as session:
        return list(
            session.scalars(
                select(Notification)
                .where(Notification.user_id == person.user.id)
                .order_by(Notification.created_at)
            )
        )


def feed_ids(client: TestClient, person: Person, **params: Any) -> list[str]:
    r = client.get("/api/v1/feed", headers=person.headers, params=params)
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()["posts"]]


def ids(*posts: Post) -> list[str]:
    return [str(p.id) for p in posts]


def new_uuid() -> str:
    return str(uuid.uuid4())


def run_jobs(runtime: Runtime) -> int:
    """Run every due outbox job, as the worker would (the redacted copies of shares
    included), and answer how many ran."""
    from doorstep.jobs import job_registry
    from doorstep.notify.worker import Worker

    return Worker(runtime, job_registry(runtime.settings, periodic=False)).drain()


@dataclass
class AskedOwners:
    """An active request (moderator review off) and the owners it asked, each with one
    stored clip in its window."""

    officer: Person
    request_id: str
    owners: list[tuple[Person, dict[str, Any]]]


def asked_owners(
    client: TestClient,
    runtime: Runtime,
    tmp_path: Path,
    *,
    count: int = 1,
    lat: float = 39.9526,
    lng: float = -75.1652,
) -> AskedOwners:
    agency = make_agency(runtime, lat=lat, lng=lng)
    officer = make_officer(runtime, agency)
    owners = []
    for i in range(count):
        person = make_person(runtime)
        cam = make_camera(runtime, person.user, latitude=lat + 0.0002 * i, longitude=lng)
        event = upload_clip(
            client,
            cam,
            sample_clip(tmp_path, f"{i}.mp4", seed=i),
            started_at=utcnow() - timedelta(hours=2),
        ).json()
        owners.append((person, event))
    set_policy(runtime, moderator_review=False)
    request_id, _ = send_request(client, officer, lat=lat, lng=lng)
    return AskedOwners(officer, request_id, owners)
