"""Privacy zones in Chromium: the owner clicks a triangle on the camera's still frame,
closes it, removes a zone, saves, and finds it listed after a reload; on a desktop and
on a phone, where the page is no wider than the window."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.factories import make_camera, make_person, sample_clip, sign_in_browser, upload_clip

from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser


def _fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (page.url, width)  # type: ignore[index]


def _click_triangle(page: Page, corners: list[tuple[float, float]]) -> None:
    """Click each corner (shares of the frame as displayed), then close the polygon."""
    frame = page.locator("#zones .zone-overlay")
    frame.scroll_into_view_if_needed()
    box = frame.bounding_box()
    assert box is not None
    for fx, fy in corners:
        frame.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
    page.get_by_role("button", name="Close polygon").click()


@pytest.mark.parametrize(("width", "height", "with_clip"), [(1280, 800, True), (390, 844, False)])
def test_draw_a_triangle_save_and_see_it_listed(
    page: Page,
    runtime: Runtime,
    live_server: str,
    tmp_path: Path,
    width: int,
    height: int,
    with_clip: bool,
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    person = make_person(runtime)
    cam = make_camera(runtime, person.user, name="Porch")
    if with_clip:
        with httpx.Client(base_url=live_server, timeout=30) as api:
            sent = upload_clip(api, cam, sample_clip(tmp_path, width=320, height=240))  # type: ignore[arg-type]
        assert sent.status_code == 201
    frame_w, frame_h = (320, 240) if with_clip else (1280, 720)
    sign_in_browser(page, person.user.email)

    page.goto(f"/cameras/{cam.camera.id}")
    expect(page.get_by_role("heading", name="Privacy zones")).to_be_visible()
    _fits(page)
    _click_triangle(page, [(0.5, 0.5), (0.9, 0.5), (0.7, 0.9)])  # removed below
    _click_triangle(page, [(0.1, 0.1), (0.8, 0.1), (0.5, 0.8)])
    expect(page.locator("#zones .zone-overlay polygon")).to_have_count(2)
    page.get_by_role("button", name="Remove zone 1").click()
    expect(page.locator("#zones .zone-list li")).to_have_count(1)
    page.get_by_label("Also fill these zones before clips are stored").check()
    _fits(page)
    page.get_by_role("button", name="Save zones").click()
    expect(page.get_by_role("status")).to_contain_text("Privacy zones saved")

    page.reload()
    expect(page.locator("#zones .zone-list li")).to_contain_text(["Zone 1: 3 points"])
    expect(page.locator("#zones .zone-overlay polygon")).to_have_count(1)
    expect(page.get_by_label("Also fill these zones before clips are stored")).to_be_checked()
    _fits(page)

    with httpx.Client(base_url=live_server, timeout=30) as api:
        zones = api.get(f"/api/v1/cameras/{cam.camera.id}/zones", headers=person.headers).json()
    # In the frame's natural pixels, whatever size it was displayed at.
    assert (zones["width"], zones["height"]) == (frame_w, frame_h)
    assert zones["apply_at_ingest"] is True
    [triangle] = zones["polygons"]
    expected = [(0.1 * frame_w, 0.1 * frame_h), (0.8 * frame_w, 0.1 * frame_h)]
    expected.append((0.5 * frame_w, 0.8 * frame_h))
    for (x, y), (ex, ey) in zip(triangle, expected, strict=True):
        assert abs(x - ex) <= frame_w / 50 and abs(y - ey) <= frame_h / 50, (triangle, expected)
