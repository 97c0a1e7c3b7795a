"""Keeping a clip in Chromium, on a desktop and a phone: the event page's button keeps
it, the timeline marks it "kept", and "Stop keeping" takes the mark away."""

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


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_keep_a_clip_and_see_it_marked_on_the_timeline(
    page: Page, runtime: Runtime, live_server: str, tmp_path: Path, width: int, height: int
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    person = make_person(runtime)
    cam = make_camera(runtime, person.user, name="Porch")
    with httpx.Client(base_url=live_server, timeout=30) as api:
        kept = upload_clip(api, cam, sample_clip(tmp_path, "a.mp4", seed=1))  # type: ignore[arg-type]
        other = upload_clip(api, cam, sample_clip(tmp_path, "b.mp4", seed=2))  # type: ignore[arg-type]
    assert kept.status_code == other.status_code == 201
    sign_in_browser(page, person.user.email)

    page.goto(f"/events/{kept.json()['id']}")
    keep = page.get_by_role("button", name="Keep this clip")
    keep.scroll_into_view_if_needed()
    expect(keep).to_be_in_viewport()
    _fits(page)
    keep.click()
    expect(page.get_by_role("status")).to_contain_text("This clip is kept")
    expect(page.locator(".tag.kept")).to_have_text("kept")
    expect(page.get_by_role("button", name="Stop keeping")).to_be_visible()
    _fits(page)

    page.goto("/timeline")
    events = page.locator("li.event")
    expect(events).to_have_count(2)
    marked = events.filter(has=page.locator(".tag.kept"))
    expect(marked).to_have_count(1)
    expect(marked.locator("a")).to_have_attribute("href", f"/events/{kept.json()['id']}")
    expect(marked.locator(".tag.kept")).to_be_visible()
    _fits(page)

    marked.locator("a").click()
    page.get_by_role("button", name="Stop keeping").click()
    expect(page.get_by_role("status")).to_contain_text("no longer kept")
    expect(page.get_by_role("button", name="Keep this clip")).to_be_visible()
    page.goto("/timeline")
    expect(page.locator("li.event .tag.kept")).to_have_count(0)
