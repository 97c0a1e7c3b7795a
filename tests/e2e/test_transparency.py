"""End to end in Chromium, signed out: the public agency map and the request log, and
the log's CSV download."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.transparency.portal import build_world, make_public_agency

from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser


def test_public_portal_shows_agency_map_and_request_log(
    page: Page, runtime: Runtime, live_server: str
) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as api:
        world: Any = build_world(api, runtime)  # type: ignore[arg-type]
    make_public_agency(
        runtime,
        name="Bravo County Sheriff's Office",
        state="NJ",
        lat=40.2,
        lng=-74.7,
        agency_type="sheriff",
        actions=("verify", "suspend"),
    )

    page.goto("/transparency/agencies")
    expect(page.get_by_role("heading", name="Agencies", exact=True)).to_be_visible()
    agency_map = page.locator("#agency-map")
    expect(agency_map).to_have_attribute("data-ready", "true")
    expect(agency_map).to_have_attribute("data-markers", "2")
    expect(agency_map.locator("path.leaflet-interactive")).to_have_count(4)  # 2 areas, 2 dots
    table = page.locator("#agency-list")
    expect(table.get_by_role("link", name="Testville PD")).to_be_visible()
    expect(table).to_contain_text("Suspended")
    expect(page.locator("#agencies-chart svg rect.bar")).not_to_have_count(0)

    page.get_by_label("Status").select_option("suspended")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"status=suspended"))
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("Bravo County Sheriff's Office")

    page.get_by_role("navigation", name="Transparency").get_by_role(
        "link", name="Request log"
    ).click()
    log = page.locator("#request-log")
    expect(log.locator("tbody tr")).to_have_count(2)
    expect(log).to_contain_text("2026-000101")
    expect(page.locator("#requests-map")).to_have_attribute("data-ready", "true")
    page.get_by_role("link", name="Shared").click()
    expect(log.locator("tbody tr").first).to_contain_text("2026-000101")

    with page.expect_download() as info:
        page.locator("#download-csv").click()
    path = info.value.path()
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert {r["id"] for r in rows} == {world.r1.id, world.r2.id}
    assert {r["case_number"] for r in rows} == {"2026-000101", "2026-000102"}
    assert page.get_by_role("link", name="Sign in").is_visible()  # nobody signed in
