"""End to end in Chromium: an officer draws and sends a request, an owner shares one clip,
the agency plays the shared evidence.

Data is built through the services and factories; people sign in through the pages,
officers with a TOTP code (pyotp, from the secret their factory stored).
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from tests.factories import (
    Person,
    active_request,
    make_agency,
    make_camera,
    make_officer,
    make_person,
    sample_clip,
    set_policy,
    sign_in_browser,
    square,
    upload_clip,
)

from doorstep.accounts.models import User
from doorstep.db import utcnow
from doorstep.footage import answers as answer_service
from doorstep.footage.models import (
    Evidence,
    EvidenceAccess,
    FootageRequest,
    IncidentType,
    Recipient,
    RequestStatus,
)
from doorstep.footage.notice import VOLUNTARY
from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser

LAT, LNG = 39.9526, -75.1652


def owner_with_clips(
    runtime: Runtime, live_server: str, tmp_path: Path, hours_ago: list[float]
) -> tuple[Person, list[dict[str, Any]]]:
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, latitude=LAT + 0.0004, longitude=LNG, name="Porch")
    events = []
    with httpx.Client(base_url=live_server, timeout=30) as api:
        for n, hours in enumerate(hours_ago):
            clip = sample_clip(tmp_path / f"clip-{n}", seed=n + 1)
            r = upload_clip(
                api,  # type: ignore[arg-type]
                cam,
                clip,
                started_at=utcnow() - timedelta(hours=hours),
                kind="person",
            )
            assert r.status_code == 201, r.text
            events.append(r.json())
    return owner, events


def test_an_officer_draws_a_polygon_and_sends_the_request(
    page: Page, runtime: Runtime, live_server: str, tmp_path: Path
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    set_policy(runtime, moderator_review=False)
    owner_with_clips(runtime, live_server, tmp_path, [2.0])
    sign_in_browser(page, officer, runtime)

    page.goto("/agency")
    page.get_by_role("link", name="Draft a request").click()
    expect(page).to_have_url(re.compile(r"/agency/requests/new$"))
    draw_map = page.locator("#draw-map")
    expect(draw_map).to_have_attribute("data-ready", "true")
    expect(page.locator("#policy-limits")).to_contain_text("0.025 to 0.5 sq mi")

    # The map opens where an allowed area is drawn: no zooming first (no tiles load;
    # the map still works).
    box = draw_map.bounding_box()
    assert box is not None
    cx, cy = box["width"] / 2, box["height"] / 2 + 30
    for dx, dy in ((-50, -50), (50, -50), (50, 50), (-50, 50)):
        draw_map.click(position={"x": cx + dx, "y": cy + dy})
    expect(draw_map).to_have_attribute("data-vertices", "4")
    expect(page.locator("#draw-map .vertex-handle")).to_have_count(4)
    page.get_by_role("button", name="Undo point").click()
    expect(draw_map).to_have_attribute("data-vertices", "3")
    draw_map.click(position={"x": cx - 50, "y": cy + 50})
    page.get_by_role("button", name="Close shape").click()
    expect(draw_map).to_have_attribute("data-closed", "true")
    area_sq_mi = float(draw_map.get_attribute("data-area-sq-mi") or "0")
    assert 0.025 <= area_sq_mi <= 0.5
    expect(page.locator("#area-readout")).to_contain_text("sq mi")
    drawn = json.loads(page.locator("#area").input_value())
    assert drawn["type"] == "Polygon" and len(drawn["coordinates"][0]) == 5

    now = utcnow()
    page.get_by_label("Window start (UTC)").fill(
        (now - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    )
    page.get_by_label("Window end (UTC)").fill(
        (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    )
    page.get_by_label("Case number").fill("2026-004321")
    page.get_by_label("Incident type").select_option("package_theft")
    page.get_by_label("Investigator contact").fill("Det. Rivera, desk 4")
    message = "A package was taken from a porch on this block in the afternoon."
    page.get_by_label("Message to owners").fill(message)
    expect(page.locator("#message-count")).to_have_text(str(len(message)))
    page.get_by_role("button", name="Save draft").click()

    expect(page).to_have_url(re.compile(r"/agency/requests/[0-9a-f-]{36}\?notice=drafted$"))
    expect(page.locator("#request-status")).to_contain_text("draft")
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#request-status")).to_contain_text("active")
    expect(page.locator("#count-asked")).to_have_text("1")
    expect(page.locator(".area-map.leaflet-container")).to_be_visible()
    expect(page.locator(".area-map .leaflet-marker-icon")).to_have_count(0)

    with runtime.db.transaction() as session:
        sent = session.scalars(select(FootageRequest)).one()
        assert sent.status == RequestStatus.active and sent.case_number == "2026-004321"
        assert sent.area["coordinates"] == drawn["coordinates"]
        assert sent.incident_type == IncidentType.package_theft


def test_an_owner_opens_the_request_and_shares_one_clip(
    page: Page, runtime: Runtime, live_server: str, tmp_path: Path
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    set_policy(runtime, moderator_review=False)
    owner, events = owner_with_clips(runtime, live_server, tmp_path, [2.5, 1.5])
    request_id = active_request(runtime, officer, lat=LAT, lng=LNG)
    sign_in_browser(page, owner, runtime)

    page.get_by_role("link", name="Requests", exact=True).click()
    page.get_by_role("link", name=re.compile(f"{agency.name} asks for footage")).click()
    expect(page).to_have_url(re.compile(rf"/requests/{request_id}/answer$"))
    expect(page.locator("#notice-text")).to_contain_text(VOLUNTARY)
    expect(page.locator("#notice-text")).to_contain_text("Declining, or not answering, has no")
    expect(page.locator("#notice-text")).to_contain_text(
        "the agency receives only a copy of each clip you choose"
    )
    expect(page.locator(".area-map.leaflet-container")).to_be_visible()
    expect(page.locator(".leaflet-marker-icon")).to_have_count(0)  # no camera on the map

    boxes = page.locator('input[name="event_id"]')
    expect(boxes).to_have_count(2)
    page.locator(f'input[name="event_id"][value="{events[1]["id"]}"]').check()
    page.get_by_role("button", name="Share selected").click()

    expect(page.get_by_role("status")).to_contain_text("Shared.")
    # The in-process worker makes the redacted copy; the page refreshes until it exists.
    expect(page.locator("#my-answer")).to_have_text("shared", timeout=60_000)
    expect(page.locator('input[name="event_id"]')).to_have_count(1)  # the other one is left
    with runtime.db.transaction() as session:
        item = session.scalars(select(Evidence)).one()
        assert str(item.source_event_id) == events[1]["id"]
        recipient = session.scalars(select(Recipient)).one()
        assert recipient.reveal_identity is False

    page.get_by_role("link", name="your sharing history").click()
    expect(page.locator(f"#shared-{item.id}")).to_contain_text("Not opened by the agency yet")


def _redacted(runtime: Runtime) -> tuple[uuid.UUID, str]:
    """The shared clip once the in-process worker has made its redacted copy."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with runtime.db.read_only() as session:
            item = session.scalars(select(Evidence)).one()
            if item.sha256 is not None:
                return item.id, item.sha256
        time.sleep(0.2)
    raise AssertionError("the redacted copy was not made within 60 s")


def test_the_agency_opens_the_evidence_and_it_plays(
    page: Page, runtime: Runtime, live_server: str, tmp_path: Path
) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    set_policy(runtime, moderator_review=False)
    owner, events = owner_with_clips(runtime, live_server, tmp_path, [2.0])
    request_id = active_request(runtime, officer, lat=LAT, lng=LNG)
    with runtime.db.transaction() as session:
        user = session.get(User, owner.user.id)
        assert user is not None
        answer_service.share(
            session=session,
            storage=runtime.storage,
            owner=user,
            request_id=request_id,
            event_ids=[uuid.UUID(events[0]["id"])],
            reveal_identity=False,
        )
    evidence_id, sha256 = _redacted(runtime)
    sign_in_browser(page, officer, runtime)

    page.get_by_role("link", name="Agency", exact=True).click()
    page.locator(f'a[href="/agency/requests/{request_id}"]').click()
    evidence = page.locator(f"#evidence-{evidence_id}")
    expect(evidence).to_contain_text(str(sha256))
    expect(evidence.locator(".shared-by")).to_have_text(re.compile(r"^Neighbor \d+$"))
    expect(page.locator("#count-shared")).to_have_text("1")
    with runtime.db.transaction() as session:
        assert session.scalars(select(EvidenceAccess)).all() == []  # preload="none"

    video = evidence.locator("video")
    expect(video).to_be_visible()
    video.evaluate("v => v.play()")
    page.wait_for_function(
        "id => { const v = document.querySelector(`#evidence-${id} video`);"
        " return v.currentTime > 0.3 && v.readyState >= 2; }",
        arg=str(evidence_id),
    )
    assert video.evaluate("v => v.error") is None
    with runtime.db.transaction() as session:
        actions = set(session.scalars(select(EvidenceAccess.action)))
        opened = session.get(Evidence, evidence_id)
        assert opened is not None and opened.first_opened_at is not None
    assert actions == {"viewed"}


def test_a_circle_is_placed_by_click_and_sized_by_dragging(page: Page, runtime: Runtime) -> None:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    sign_in_browser(page, officer, runtime)
    page.goto("/agency/requests/new")
    draw_map = page.locator("#draw-map")
    expect(draw_map).to_have_attribute("data-ready", "true")
    page.get_by_label("Circle").check()
    expect(page.get_by_role("button", name="Close shape")).to_be_hidden()
    expect(page.get_by_label("Radius (metres)")).to_be_visible()

    box = draw_map.bounding_box()
    assert box is not None
    draw_map.click(position={"x": box["width"] / 2, "y": box["height"] / 2})
    latitude = float(page.get_by_label("Centre latitude").input_value())
    longitude = float(page.get_by_label("Centre longitude").input_value())
    assert abs(latitude - LAT) < 0.05 and abs(longitude - LNG) < 0.05
    handle = page.locator("#draw-map .edge-handle")
    expect(handle).to_have_count(1)
    radius_before = float(page.get_by_label("Radius (metres)").input_value())

    start = handle.bounding_box()
    assert start is not None
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y, steps=5)
    page.mouse.up()
    radius_after = float(page.get_by_label("Radius (metres)").input_value())
    assert radius_after > radius_before
    expect(page.locator("#area-readout")).to_contain_text("sq mi")

    # Typing a radius redraws the circle; the area readout follows.
    page.get_by_label("Radius (metres)").fill("300")
    page.get_by_label("Radius (metres)").dispatch_event("change")
    expect(draw_map).to_have_attribute(
        "data-area-sq-mi", f"{3.141592653589793 * 300**2 / 2589988.110336:.4f}"
    )


def test_a_pasted_jurisdiction_is_drawn_on_the_application_map(
    page: Page, runtime: Runtime
) -> None:
    applicant = make_person(runtime)
    sign_in_browser(page, applicant, runtime)
    page.goto("/agencies/apply")
    draw_map = page.locator("#draw-map")
    expect(draw_map).to_have_attribute("data-ready", "true")
    expect(page.locator("#area-readout")).to_contain_text("Click the map")
    page.get_by_label("Jurisdiction as GeoJSON").fill(json.dumps(square(LAT, LNG, 4000)))
    page.get_by_label("Jurisdiction as GeoJSON").dispatch_event("change")
    expect(draw_map).to_have_attribute("data-closed", "true")
    expect(draw_map).to_have_attribute("data-vertices", "4")
    assert int(draw_map.get_attribute("data-zoom") or "0") >= 10  # fitted to the shape
    page.get_by_role("button", name="Clear").click()
    expect(page.get_by_label("Jurisdiction as GeoJSON")).to_have_value("")
