"""End to end in Chromium: sign up, add a camera on the map, watch a clip."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.factories import (
    PASSWORD,
    make_camera,
    make_person,
    sample_clip,
    sign_in_browser,
    upload_clip,
)

from doorstep.accounts.models import User
from doorstep.cameras import registry as camera_registry
from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser


def test_sign_up_lands_on_the_timeline(page: Page, runtime: Runtime) -> None:
    page.goto("/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").fill("ana@example.org")
    page.get_by_label("Display name").fill("Ana")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/timeline$"))
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    # The Secure, HttpOnly session cookie is kept on http://127.0.0.1 (a secure context).
    cookie = next(c for c in page.context.cookies() if c["name"] == runtime.settings.cookie_name)
    assert cookie["secure"] is True and cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"


def test_add_a_camera_by_clicking_the_map(page: Page, runtime: Runtime) -> None:
    person = make_person(runtime)
    sign_in_browser(page, person.user.email)
    page.goto("/cameras")
    page.get_by_role("link", name="Add a camera").first.click()
    expect(page.locator("#camera-map.leaflet-container")).to_be_visible()
    latitude, longitude = page.locator("#latitude"), page.locator("#longitude")
    expect(latitude).to_have_value("")

    # No tiles load (the tile server is unreachable); the map still takes the click.
    page.locator("#camera-map").click(position={"x": 420, "y": 150})
    expect(page.locator("#camera-map .leaflet-marker-icon")).to_have_count(1)
    clicked = (float(latitude.input_value()), float(longitude.input_value()))
    assert -90 <= clicked[0] <= 90 and -180 <= clicked[1] <= 180

    # Typing numbers moves the marker; clicking elsewhere moves it and refills the inputs.
    marker_box = page.locator("#camera-map .leaflet-marker-icon").bounding_box()
    page.locator("#camera-map").click(position={"x": 200, "y": 250})
    assert page.locator("#camera-map .leaflet-marker-icon").bounding_box() != marker_box
    clicked = (float(latitude.input_value()), float(longitude.input_value()))
    assert clicked[0] < 90

    page.get_by_label("Name").fill("Porch")
    page.get_by_label("Kind").select_option("floodlight")
    page.get_by_role("button", name="Add camera").click()

    expect(page.get_by_role("heading", name="Camera “Porch” added")).to_be_visible()
    token = page.locator("#ingest-token").inner_text()
    assert token.startswith("dsc_")
    page.get_by_role("link", name="Back to my cameras").click()
    expect(page.get_by_role("link", name="Porch")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text(token)  # shown once only

    with runtime.db.transaction() as session:
        user = session.get(User, person.user.id)
        assert user is not None
        [camera] = camera_registry.list_cameras(session=session, owner=user)
        view = camera_registry.owner_view(camera)
    assert (round(view.latitude, 6), round(view.longitude, 6)) == clicked
    assert view.kind.value == "floodlight"


def test_a_clip_plays_in_the_browser(
    page: Page, runtime: Runtime, live_server: str, tmp_path: Path
) -> None:
    person = make_person(runtime)
    cam = make_camera(runtime, person.user, name="Porch")
    with httpx.Client(base_url=live_server, timeout=30) as api:
        r = upload_clip(api, cam, sample_clip(tmp_path), kind="person")  # type: ignore[arg-type]
        assert r.status_code == 201, r.text
    sign_in_browser(page, person.user.email)

    page.get_by_role("link", name=re.compile("person at Porch", re.I)).click()
    expect(page).to_have_url(re.compile(r"/events/"))
    video = page.locator("video#clip-player")
    expect(video).to_be_visible()
    # Debian's Chromium plays H.264: the clip really decodes and advances.
    video.evaluate("v => v.play()")
    page.wait_for_function(
        "() => { const v = document.querySelector('#clip-player');"
        " return v.currentTime > 0.3 && v.readyState >= 2; }"
    )
    assert video.evaluate("v => v.videoWidth") == 320
    assert video.evaluate("v => v.error") is None
