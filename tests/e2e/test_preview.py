"""End to end in Chromium: an owner previews the copy the agency would receive (faces
found, a track left visible, a box of his own), then shares the clip with those choices;
the preview page fits a phone."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select
from tests.factories import (
    active_request,
    make_agency,
    make_camera,
    make_officer,
    make_person,
    set_policy,
    sign_in_browser,
    upload_clip,
)
from tests.redaction_support import LAT, LNG, write_tagged_clip

from doorstep.db import utcnow
from doorstep.footage.models import Evidence
from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser

BOX_LINE = "100 345 180 420 1.2 1.6"


def _open_preview(page: Page, runtime: Runtime, live_server: str, tmp_path: Path) -> str:
    """A face clip in an active request's window; its owner signed in on the answer page,
    then on its preview page. Returns the request id."""
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    set_policy(runtime, moderator_review=False)
    owner = make_person(runtime)
    cam = make_camera(runtime, owner.user, latitude=LAT + 0.0004, longitude=LNG, name="Porch")
    clip = tmp_path / "faces.mp4"
    write_tagged_clip(clip)
    with httpx.Client(base_url=live_server, timeout=30) as api:
        r = upload_clip(api, cam, clip, started_at=utcnow() - timedelta(hours=2))  # type: ignore[arg-type]
        assert r.status_code == 201, r.text
    request_id = str(active_request(runtime, officer, lat=LAT, lng=LNG))
    sign_in_browser(page, owner, runtime)
    page.goto(f"/requests/{request_id}/answer")
    page.get_by_role("link", name="preview what the agency would see").click()
    expect(page).to_have_url(re.compile(rf"/requests/{request_id}/events/[^/]+/preview"))
    return request_id


def _preview_ready(page: Page) -> None:
    """Both videos shown (the page refreshes itself while the preview is made)."""
    expect(page.locator("#redacted")).to_be_visible(timeout=90_000)
    expect(page.locator("#original")).to_be_visible()
    expect(page.locator("#preview-summary")).to_contain_text("Hidden:")
    for video in ("#original", "#redacted"):  # each loads (its metadata, at least)
        page.wait_for_function(f"document.querySelector('{video}').readyState >= 1")


def test_an_owner_previews_edits_and_shares_with_those_choices(
    page: Page, runtime: Runtime, live_server: str, tmp_path: Path
) -> None:
    request_id = _open_preview(page, runtime, live_server, tmp_path)
    page.get_by_role("button", name="Preview", exact=True).click()
    _preview_ready(page)
    tracks = page.locator('input[name="remove_track"]')
    assert tracks.count() > 0  # the clip's faces were found
    removed = [tracks.first.get_attribute("value")]
    tracks.first.check()
    page.locator("#boxes").fill(BOX_LINE)
    page.get_by_role("button", name="Preview", exact=True).click()
    _preview_ready(page)
    expect(page.locator("#preview-summary")).to_contain_text("1 box of yours")
    expect(page.locator("#boxes")).to_have_value(BOX_LINE)
    page.get_by_role("button", name="Share this clip with these choices").click()
    expect(page).to_have_url(re.compile(rf"/requests/{request_id}"))
    with runtime.db.transaction() as session:
        item = session.scalars(select(Evidence)).one()
        chosen = dict(item.redaction_request or {})
    assert chosen["manual_boxes"] == [
        {"box": [100.0, 345.0, 180.0, 420.0], "start_s": 1.2, "end_s": 1.6}
    ]
    assert chosen["removals"] == [{"track_id": t} for t in removed]


def test_the_preview_page_fits_a_phone(
    page: Page, runtime: Runtime, live_server: str, tmp_path: Path
) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    _open_preview(page, runtime, live_server, tmp_path)
    page.get_by_role("button", name="Preview", exact=True).click()
    _preview_ready(page)
    page.locator("#boxes").fill(BOX_LINE)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
