"""Footage requests through their HTML pages: drafting on the form (with policy refusals),
the full flow from draft to a verified bundle, and what each page must never show."""

from __future__ import annotations

import hashlib
import html
import json
import re
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.factories import (
    HTML,
    CameraWithToken,
    Person,
    active_request,
    browser,
    form_error,
    make_agency,
    make_camera,
    make_officer,
    make_person,
    run_jobs,
    sample_clip,
    set_policy,
    sign_in,
    square,
    upload_clip,
)

from doorstep.accounts.models import Role, User
from doorstep.db import utcnow
from doorstep.footage import answers as answer_service
from doorstep.footage.evidence import verify_bundle
from doorstep.footage.models import (
    Evidence,
    EvidenceAccess,
    FootageRequest,
    RequestStatus,
)
from doorstep.footage.notice import NO_CONSEQUENCE, VOLUNTARY, WHAT_AGENCY_RECEIVES
from doorstep.runtime import Runtime

LAT, LNG = 39.9526, -75.1652
# Cameras inside the requested area, at positions no page but the owner's may show.
ALICE_AT = (39.95312345, -75.16387654)
BOB_AT = (39.95187654, -75.16612345)


def minute(moment: datetime) -> str:
    """A datetime-local value (UTC)."""
    return moment.strftime("%Y-%m-%dT%H:%M")


def request_form(csrf: str, **over: Any) -> dict[str, str]:
    now = utcnow()
    values = {
        "csrf_token": csrf,
        "shape": "polygon",
        "area": json.dumps(square(LAT, LNG, 300)),
        "window_start": minute(now - timedelta(hours=3)),
        "window_end": minute(now - timedelta(hours=1)),
        "case_number": "2026-001234",
        "incident_type": "burglary",
        "investigator_contact": "Det. Rivera, desk 4",
        "message": "A house on this block was broken into in the afternoon. Footage of people "
        "walking by may help the investigation.",
    }
    values.update(over)
    return values


def owner_with_clip(
    client: TestClient, runtime: Runtime, tmp_path: Path, at: tuple[float, float], seed: int
) -> tuple[Person, CameraWithToken, dict[str, Any], Path]:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, latitude=at[0], longitude=at[1], name=f"Porch {seed}")
    clip = sample_clip(tmp_path / f"clips-{seed}", seed=seed)
    r = upload_clip(client, cam, clip, started_at=utcnow() - timedelta(hours=2))
    assert r.status_code == 201, r.text
    return owner, cam, dict(r.json()), clip


def share_through_service(
    runtime: Runtime, owner: Person, request_id: uuid.UUID, event: str
) -> None:
    with runtime.db.transaction() as session:
        user = session.get(User, owner.user.id)
        assert user is not None
        answer_service.share(
            session=session,
            storage=runtime.storage,
            owner=user,
            request_id=request_id,
            event_ids=[uuid.UUID(event)],
            reveal_identity=False,
        )
    run_jobs(runtime)  # its redacted copy, which the agency then sees


def count_requests(runtime: Runtime) -> int:
    with runtime.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(FootageRequest)) or 0)


def position_strings(*positions: tuple[float, float]) -> list[str]:
    return [f"{v:.{digits}f}" for p in positions for v in p for digits in (4, 5, 6)]


# ---------------------------------------------------------------- drafting


def test_drafting_shows_policy_refusals_and_keeps_the_form(
    client: TestClient, runtime: Runtime
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    csrf = sign_in(client, officer, runtime)

    page = client.get("/agency/requests/new", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert 'id="draw-map"' in text and 'src="/static/draw.js"' in text
    assert f'data-tile-url="{runtime.settings.tile_url}"' in text
    assert 'type="datetime-local" name="window_start"' in text and "Window start (UTC)" in text
    assert 'maxlength="1000"' in text and 'id="message-count"' in text
    assert ">Vehicle break-in<" in text and ">Hit and run<" in text
    assert "0.025 to 0.5 sq mi" in text and "15 minutes to 12 hours" in text
    assert "up to 30 days" in text
    assert "data-jurisdiction=" in text  # drawn as a dashed outline to stay inside it

    # The window is too long: refused with the rule and its limit; the form keeps its values.
    now = utcnow()
    r = client.post(
        "/agency/requests/new",
        data=request_form(
            csrf,
            window_start=minute(now - timedelta(hours=20)),
            message="Someone forced the back door of a house on this block.",
        ),
        headers=HTML,
    )
    assert r.status_code == 400
    assert "the policy's maximum is 12 hours" in form_error(r.text)
    assert 'value="2026-001234"' in r.text and "Det. Rivera, desk 4" in r.text
    assert "Someone forced the back door of a house on this block." in r.text
    assert '<option value="burglary" selected>' in r.text
    assert json.loads(
        html.unescape(
            re.search(  # type: ignore[union-attr]
                r'id="area"[^>]*>([^<]*)<', r.text
            ).group(1)
        )
    ) == square(LAT, LNG, 300)

    # The area is too large, a refused purpose, pressure on residents, no case number.
    r = client.post(
        "/agency/requests/new",
        data=request_form(csrf, area=json.dumps(square(LAT, LNG, 2000))),
        headers=HTML,
    )
    assert r.status_code == 400 and "the policy's maximum is 0.5" in form_error(r.text)
    r = client.post(
        "/agency/requests/new",
        data=request_form(csrf, incident_type="immigration_enforcement"),
        headers=HTML,
    )
    assert r.status_code == 400
    assert "refuses requests for immigration enforcement" in form_error(r.text)
    r = client.post(
        "/agency/requests/new",
        data=request_form(csrf, message="You must share your footage with us."),
        headers=HTML,
    )
    assert r.status_code == 400 and "pressures residents" in form_error(r.text)
    r = client.post("/agency/requests/new", data=request_form(csrf, case_number=""), headers=HTML)
    assert r.status_code == 400 and "requires a case number" in form_error(r.text)
    # Outside the jurisdiction; not drawn at all; a bad time.
    r = client.post(
        "/agency/requests/new",
        data=request_form(csrf, area=json.dumps(square(LAT + 1, LNG, 300))),
        headers=HTML,
    )
    assert r.status_code == 400 and "outside the agency's jurisdiction" in form_error(r.text)
    r = client.post("/agency/requests/new", data=request_form(csrf, area=""), headers=HTML)
    assert r.status_code == 400 and "Draw the area on the map" in form_error(r.text)
    r = client.post(
        "/agency/requests/new", data=request_form(csrf, window_end="yesterday"), headers=HTML
    )
    assert r.status_code == 400 and form_error(r.text).startswith("Window end")
    assert count_requests(runtime) == 0

    # A circle is drawn as a centre and a radius in metres.
    r = client.post(
        "/agency/requests/new",
        data=request_form(
            csrf,
            shape="circle",
            area="",
            circle_latitude=str(LAT),
            circle_longitude=str(LNG),
            radius_m="250",
        ),
        follow_redirects=False,
    )
    assert r.status_code == 303, form_error(r.text)
    assert re.fullmatch(r"/agency/requests/[0-9a-f-]{36}\?notice=drafted", r.headers["location"])
    with runtime.db.transaction() as session:
        drafted = session.scalars(select(FootageRequest)).one()
        assert drafted.circle == {"latitude": LAT, "longitude": LNG, "radius_m": 250.0}
        assert drafted.status == RequestStatus.draft
        # datetime-local values are read as UTC
        assert drafted.window_end.strftime("%Y-%m-%dT%H:%M") == minute(now - timedelta(hours=1))
    page = client.get(r.headers["location"], headers=HTML)
    assert "Draft saved" in page.text and "/agency/requests/" in page.text
    assert 'action="/agency/requests/' in page.text and ">Submit</button>" in page.text


def test_request_forms_need_the_csrf_token(client: TestClient, runtime: Runtime) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    csrf = sign_in(client, officer, runtime)
    form = request_form(csrf)
    del form["csrf_token"]
    r = client.post("/agency/requests/new", data=form, headers=HTML)
    assert r.status_code == 403 and "did not come from this site" in r.text
    r = client.post("/agency/requests/new", data=request_form("forged"), headers=HTML)
    assert r.status_code == 403
    assert count_requests(runtime) == 0


# ---------------------------------------------------------------- the full flow


def test_full_flow_through_the_pages(client: TestClient, runtime: Runtime, tmp_path: Path) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    moderator = make_person(runtime, role=Role.moderator)
    alice, _cam_a, alice_event, alice_clip = owner_with_clip(client, runtime, tmp_path, ALICE_AT, 1)
    bob, _cam_b, bob_event, _bob_clip = owner_with_clip(client, runtime, tmp_path, BOB_AT, 2)

    # The officer drafts and submits; the policy sends it to moderator review.
    officer_browser = browser(client)
    csrf = sign_in(officer_browser, officer, runtime)
    r = officer_browser.post(
        "/agency/requests/new", data=request_form(csrf), follow_redirects=False
    )
    assert r.status_code == 303, form_error(r.text)
    request_url = r.headers["location"].split("?")[0]
    request_id = request_url.rsplit("/", 1)[1]
    r = officer_browser.post(f"{request_url}/submit", data={"csrf_token": csrf})
    assert r.status_code == 200 and "The request was submitted." in r.text
    assert "waiting for moderator review" in r.text
    dashboard = officer_browser.get("/agency", headers=HTML).text
    assert f'href="/agency/requests/{request_id}"' in dashboard and "pending review" in dashboard

    # A moderator reviews it: a rejection needs a note; approving publishes it.
    mod_browser = browser(client)
    mod_csrf = sign_in(mod_browser, moderator, runtime)
    queue = mod_browser.get("/moderation/requests", headers=HTML)
    assert queue.status_code == 200 and f"/moderation/requests/{request_id}/review" in queue.text
    assert VOLUNTARY in html.unescape(queue.text)  # the notice, as owners will see it
    r = mod_browser.post(
        f"/moderation/requests/{request_id}/review",
        data={"csrf_token": mod_csrf, "decision": "reject", "note": ""},
        headers=HTML,
    )
    assert r.status_code == 400 and "Say why the request is rejected" in form_error(r.text)
    r = mod_browser.post(
        f"/moderation/requests/{request_id}/review",
        data={"csrf_token": mod_csrf, "decision": "approve", "note": "Meets the guidelines"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "Nothing waits for review" in mod_browser.get("/moderation/requests").text

    page = officer_browser.get(request_url, headers=HTML).text
    assert re.search(r'id="count-asked">2<', page) and re.search(r'id="count-no-answer">2<', page)

    # Alice answers through her pages: she sees the notice in full and her own clip only.
    alice_browser = browser(client)
    alice_csrf = sign_in(alice_browser, alice, runtime)
    inbox = alice_browser.get("/requests", headers=HTML).text
    assert f"{agency.name} asks for footage (burglary)" in inbox
    assert f'href="/requests/{request_id}/answer"' in inbox and "not answered" in inbox
    answer = alice_browser.get(f"/requests/{request_id}/answer", headers=HTML)
    assert answer.status_code == 200
    shown = html.unescape(answer.text)
    for sentence in (VOLUNTARY, NO_CONSEQUENCE, WHAT_AGENCY_RECEIVES):
        assert sentence in shown
    assert 'class="map area-map"' in answer.text
    assert f'value="{alice_event["id"]}"' in answer.text
    assert alice_event["clip"]["thumbnail_url"] in answer.text
    assert bob_event["id"] not in answer.text
    r = alice_browser.post(
        f"/requests/{request_id}/share", data={"csrf_token": alice_csrf}, headers=HTML
    )
    assert r.status_code == 400 and "Choose at least one clip" in form_error(r.text)
    r = alice_browser.post(
        f"/requests/{request_id}/share",
        data={"csrf_token": alice_csrf, "event_id": alice_event["id"]},
        follow_redirects=False,
    )
    assert r.status_code == 303
    answer = alice_browser.get(r.headers["location"], headers=HTML).text
    # The share counts once its redacted copy exists: the page says it is being prepared.
    assert "Shared. Your clips are being prepared" in answer and "preparing 0%" in answer
    assert 'id="my-answer">not answered<' in answer
    assert run_jobs(runtime) >= 1
    answer = alice_browser.get(r.headers["location"], headers=HTML).text
    assert 'id="my-answer">shared<' in answer and "preparing" not in answer
    # Until the agency opens it, she may take it back: the button is there.
    assert "/withdraw" in alice_browser.get("/requests/shared", headers=HTML).text

    # Bob declines.
    bob_browser = browser(client)
    bob_csrf = sign_in(bob_browser, bob, runtime)
    r = bob_browser.post(f"/requests/{request_id}/decline", data={"csrf_token": bob_csrf})
    assert r.status_code == 200 and 'id="my-answer">declined<' in r.text

    # The agency's page: counts, the clip with its SHA-256 and a player; never who.
    page = officer_browser.get(request_url, headers=HTML).text
    for name, n in (("asked", 2), ("shared", 1), ("declined", 1), ("no-answer", 0)):
        assert re.search(rf'id="count-{name}">{n}<', page), name
    original = hashlib.sha256(alice_clip.read_bytes()).hexdigest()
    with runtime.db.transaction() as session:
        item = session.scalars(select(Evidence)).one()
    assert f'<code class="hash sha256">{item.sha256}</code>' in page
    assert f'<code class="hash original-sha256">{original}</code>' in page
    assert "redaction-summary" in page
    assert re.search(r'class="shared-by">Neighbor \d<', page)
    video_url = f"/api/v1/evidence/{item.id}/video"
    assert f'src="{video_url}"' in page and 'preload="none"' in page
    video = officer_browser.get(video_url)
    assert video.status_code == 200 and hashlib.sha256(video.content).hexdigest() == item.sha256

    # Export the bundle through the page's form: a ZIP that verifies.
    r = officer_browser.post(f"{request_url}/export", data={"csrf_token": csrf})
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(r.content)
    check = verify_bundle(bundle)
    assert check.ok and check.files == 1, check.problems
    cli = subprocess.run(
        [sys.executable, "-m", "doorstep", "evidence", "verify", str(bundle)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 0 and "ok: 1 clips" in cli.stdout, cli.stdout + cli.stderr

    # Alice sees both accesses, and can no longer withdraw.
    history = alice_browser.get("/requests/shared", headers=HTML).text
    assert re.findall(r'class="access-action">(\w+)<', history) == ["viewed", "exported"]
    assert "/withdraw" not in history

    # Hold for the case, then close as resolved.
    r = officer_browser.post(f"{request_url}/hold", data={"csrf_token": csrf, "held": "1"})
    assert "held for the case" in r.text
    with runtime.db.transaction() as session:
        assert session.scalars(select(Evidence.held_for_case)).one() is True
    r = officer_browser.post(
        f"{request_url}/close", data={"csrf_token": csrf, "reason": "resolved"}
    )
    assert r.status_code == 200 and "The request was closed." in r.text
    with runtime.db.transaction() as session:
        closed = session.get(FootageRequest, uuid.UUID(request_id))
        assert closed is not None and closed.status == RequestStatus.closed
    # A closed request takes no more answers.
    r = alice_browser.post(
        f"/requests/{request_id}/share",
        data={"csrf_token": alice_csrf, "event_id": alice_event["id"]},
        headers=HTML,
    )
    assert r.status_code == 409 and "no longer open" in form_error(r.text)


def test_refusals_of_request_actions_are_shown_on_the_request_page(
    client: TestClient, runtime: Runtime
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    set_policy(runtime, supervisor_approval=True)
    csrf = sign_in(client, officer, runtime)
    r = client.post("/agency/requests/new", data=request_form(csrf), follow_redirects=False)
    request_url = r.headers["location"].split("?")[0]
    r = client.post(f"{request_url}/submit", data={"csrf_token": csrf})
    assert "waiting for supervisor approval" in r.text
    assert ">Approve</button>" not in r.text  # an officer does not approve
    r = client.post(f"{request_url}/approve", data={"csrf_token": csrf}, headers=HTML)
    assert r.status_code == 403 and "supervisor" in form_error(r.text)
    r = client.post(f"{request_url}/export", data={"csrf_token": csrf}, headers=HTML)
    assert r.status_code == 409 and "No shared evidence" in form_error(r.text)
    r = client.post(f"{request_url}/close", data={"csrf_token": csrf}, headers=HTML)
    assert r.status_code == 409 and "Only an active request" in form_error(r.text)

    supervisor = make_officer(runtime, agency, role="supervisor")
    sup_browser = browser(client)
    sup_csrf = sign_in(sup_browser, supervisor, runtime)
    page = sup_browser.get(request_url, headers=HTML).text
    assert ">Approve</button>" in page
    r = sup_browser.post(f"{request_url}/approve", data={"csrf_token": sup_csrf})
    assert r.status_code == 200 and "waiting for moderator review" in r.text
    r = client.post(f"{request_url}/withdraw", data={"csrf_token": csrf})
    assert r.status_code == 200 and "The request was withdrawn." in r.text


# ---------------------------------------------------------------- what pages never show


def test_a_member_of_another_agency_gets_404(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    owner, _cam, event, _clip = owner_with_clip(client, runtime, tmp_path, ALICE_AT, 1)
    set_policy(runtime, moderator_review=False)
    request_id = active_request(runtime, officer, lat=LAT, lng=LNG)
    share_through_service(runtime, owner, request_id, event["id"])

    other = make_agency(runtime, name="Otherville PD", lat=LAT, lng=LNG)
    stranger = make_officer(runtime, other)
    csrf = sign_in(client, stranger, runtime)
    r = client.get(f"/agency/requests/{request_id}", headers=HTML)
    assert r.status_code == 404 and "No such request" in r.text
    for action in ("submit", "withdraw", "close", "hold", "export"):
        r = client.post(f"/agency/requests/{request_id}/{action}", data={"csrf_token": csrf})
        assert r.status_code == 404, action
    with runtime.db.transaction() as session:
        item = session.scalars(select(Evidence)).one()
        assert session.scalar(select(func.count()).select_from(EvidenceAccess)) == 0
    assert client.get(f"/api/v1/evidence/{item.id}/video").status_code == 404
    assert str(request_id) not in client.get("/agency", headers=HTML).text

    # A resident who belongs to no agency is refused outright.
    resident = make_person(runtime)
    resident_browser = browser(client)
    sign_in(resident_browser, resident, runtime)
    assert resident_browser.get(f"/agency/requests/{request_id}", headers=HTML).status_code == 403
    assert resident_browser.get("/agency/requests/new", headers=HTML).status_code == 403
    assert resident_browser.get("/moderation/requests", headers=HTML).status_code == 403


def test_agency_pages_never_show_owners_or_camera_positions(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    alice, cam_a, alice_event, _ = owner_with_clip(client, runtime, tmp_path, ALICE_AT, 1)
    bob, cam_b, _bob_event, _ = owner_with_clip(client, runtime, tmp_path, BOB_AT, 2)
    set_policy(runtime, moderator_review=False)
    request_id = active_request(runtime, officer, lat=LAT, lng=LNG)
    share_through_service(runtime, alice, request_id, alice_event["id"])

    sign_in(client, officer, runtime)
    pages = [
        client.get(f"/agency/requests/{request_id}", headers=HTML).text,
        client.get("/agency", headers=HTML).text,
    ]
    assert "Neighbor" in pages[0] and re.search(r'id="count-asked">2<', pages[0])
    secrets = [str(p.user.id) for p in (alice, bob)]
    secrets += [p.user.email for p in (alice, bob)] + [p.user.display_name for p in (alice, bob)]
    secrets += [str(c.camera.id) for c in (cam_a, cam_b)] + [c.camera.name for c in (cam_a, cam_b)]
    secrets += position_strings(ALICE_AT, BOB_AT)
    for page in pages:
        for secret in secrets:
            assert secret not in page, secret


def test_the_answer_page_shows_only_the_owners_own_clips(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    alice, cam_a, alice_event, _ = owner_with_clip(client, runtime, tmp_path, ALICE_AT, 1)
    bob, cam_b, bob_event, _ = owner_with_clip(client, runtime, tmp_path, BOB_AT, 2)
    set_policy(runtime, moderator_review=False)
    request_id = active_request(runtime, officer, lat=LAT, lng=LNG)

    csrf = sign_in(client, alice, runtime)
    page = client.get(f"/requests/{request_id}/answer", headers=HTML).text
    assert alice_event["id"] in page and cam_a.camera.name in page
    for secret in (
        bob_event["id"],
        bob_event["clip"]["id"],
        cam_b.camera.name,
        str(cam_b.camera.id),
        str(bob.user.id),
        bob.user.email,
        *position_strings(BOB_AT, ALICE_AT),  # no camera on the map, not even hers
    ):
        assert secret not in page, secret
    assert "leaflet-marker" not in page and "L.marker" not in page

    # Bob's clip cannot be shared through Alice's answer.
    r = client.post(
        f"/requests/{request_id}/share",
        data={"csrf_token": csrf, "event_id": bob_event["id"]},
        headers=HTML,
    )
    assert r.status_code == 400 and "Only your own clips" in form_error(r.text)
    with runtime.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Evidence)) == 0

    # A request that did not ask her is a 404, like a missing one.
    carol = make_person(runtime)
    carol_browser = browser(client)
    sign_in(carol_browser, carol, runtime)
    assert carol_browser.get(f"/requests/{request_id}/answer", headers=HTML).status_code == 404
    assert "No agency has asked you" in carol_browser.get("/requests", headers=HTML).text


def test_owner_settings_mute_and_withdraw(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    alice, _cam, event, _ = owner_with_clip(client, runtime, tmp_path, ALICE_AT, 1)
    set_policy(runtime, moderator_review=False)
    request_id = active_request(runtime, officer, lat=LAT, lng=LNG)
    csrf = sign_in(client, alice, runtime)

    r = client.post(
        f"/requests/{request_id}/share",
        data={"csrf_token": csrf, "event_id": event["id"], "reveal_identity": "1"},
    )
    assert r.status_code == 200
    history = client.get("/requests/shared", headers=HTML).text
    assert "Not opened by the agency yet" in history
    evidence_id = re.search(r"/requests/shared/([0-9a-f-]{36})/withdraw", history).group(1)  # type: ignore[union-attr]
    r = client.post(f"/requests/shared/{evidence_id}/withdraw", data={"csrf_token": csrf})
    assert r.status_code == 200 and "The clip was withdrawn" in r.text
    assert ">withdrawn<" in r.text

    r = client.post(f"/requests/{request_id}/mute", data={"csrf_token": csrf})
    assert r.status_code == 200 and "no more requests from this agency" in r.text
    assert f"/requests/agencies/{agency.id}/unmute" in r.text
    r = client.post(f"/requests/agencies/{agency.id}/unmute", data={"csrf_token": csrf})
    assert f"/requests/agencies/{agency.id}/unmute" not in r.text

    r = client.post("/requests/settings", data={"csrf_token": csrf})  # both boxes unticked
    assert r.status_code == 200 and "Request settings saved." in r.text
    assert 'name="reminders" value="1" checked' not in r.text
    r = client.post("/requests/stop", data={"csrf_token": csrf})
    assert 'name="opted_out" value="1" checked' in r.text
    with runtime.db.transaction() as session:
        user = session.get(User, alice.user.id)
        assert user is not None
        settings = answer_service.request_settings(session=session, owner=user)
        assert settings.opted_out is True and settings.reminders is False
