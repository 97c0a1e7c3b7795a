"""Local time in Chromium (issue 15, item 1): a browser in Philadelphia reads a theft at
07:15 as 07:15 EST, without choosing anything; the transparency overview shows its map
and monthly charts (item 9)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect
from tests.factories import (
    active_request,
    make_agency,
    make_camera,
    make_officer,
    make_person,
    sample_clip,
    set_policy,
    sign_in_browser,
    upload_clip,
)

from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser

LAT, LNG = 39.9526, -75.1652
THEFT = datetime(2026, 12, 1, 12, 15, tzinfo=UTC)


def test_times_follow_the_browsers_zone(
    browser: Browser, runtime: Runtime, live_server: str, tmp_path: Path
) -> None:
    person = make_person(runtime)
    cam = make_camera(runtime, person.user, latitude=LAT, longitude=LNG)
    with httpx.Client(base_url=live_server, timeout=30) as api:
        event = upload_clip(api, cam, sample_clip(tmp_path), started_at=THEFT)  # type: ignore[arg-type]
    assert event.status_code == 201
    context = browser.new_context(base_url=live_server, timezone_id="America/New_York")
    try:
        page = context.new_page()
        sign_in_browser(page, person.user.email)
        page.goto(f"/events/{event.json()['id']}")
        # The first page sets the zone's cookie; every page after shows the browser's zone.
        page.reload()
        expect(page.locator("main")).to_contain_text("2026-12-01 07:15:00 EST")
        page.goto("/timeline")
        expect(page.locator("main")).to_contain_text("2026-12-01 07:15:00 EST")
        page.goto("/account")
        expect(page.locator("#time_zone")).to_contain_text(
            "My browser's zone (now America/New_York)"
        )
        page.locator("#time_zone").select_option("Europe/Berlin")
        page.locator("#time-zone").get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_contain_text("Saved: pages show times")
        page.goto("/timeline")
        expect(page.locator("main")).to_contain_text("2026-12-01 13:15:00 CET")
    finally:
        context.close()


def test_the_overview_shows_the_agency_map_and_the_charts(
    browser: Browser, runtime: Runtime, live_server: str
) -> None:
    set_policy(runtime, moderator_review=False)
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    active_request(runtime, make_officer(runtime, agency), lat=LAT, lng=LNG)
    context = browser.new_context(base_url=live_server, viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto("/transparency")
        expect(page.locator("#agency-map.leaflet-container")).to_be_visible()
        expect(page.locator("#agency-map path.leaflet-interactive").first).to_be_visible()
        for chart in ("#overview-agencies-chart svg", "#overview-requests-chart svg"):
            expect(page.locator(chart)).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
