"""The officer's request map in Chromium, at desktop and phone sizes: it opens at the zoom
that fits the policy's largest area, and it stays put while the area readout changes."""

from __future__ import annotations

import math
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, ViewportSize, expect
from shapely.geometry import box as bbox
from tests.factories import make_agency, make_officer, set_policy, sign_in_browser

from doorstep import geo
from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser

LAT, LNG = 39.9526, -75.1652
SIZES: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
MAX_AREA_SQ_MI = 1.2


def open_request_map(page: Page, runtime: Runtime, size: str) -> Locator:
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    set_policy(runtime, max_area_sq_mi=MAX_AREA_SQ_MI)
    page.set_viewport_size(SIZES[size])
    sign_in_browser(page, officer, runtime)
    page.goto("/agency/requests/new")
    draw_map = page.locator("#draw-map")
    expect(draw_map).to_have_attribute("data-ready", "true")
    return draw_map


def page_box(element: Locator) -> dict[str, Any]:
    """The element's box in page coordinates (not moved by scrolling)."""
    result: dict[str, Any] = element.evaluate(
        """el => { const r = el.getBoundingClientRect();
                   return {x: r.left + window.scrollX, y: r.top + window.scrollY,
                           width: r.width, height: r.height}; }"""
    )
    return result


@pytest.mark.parametrize("size", list(SIZES))
def test_the_map_opens_on_the_largest_area_the_policy_allows(
    page: Page, runtime: Runtime, size: str
) -> None:
    draw_map = open_request_map(page, runtime, size)
    west, south, east, north = (float(v) for v in draw_map.get_attribute("data-bounds").split(","))  # type: ignore[union-attr]
    radius_m = math.sqrt(MAX_AREA_SQ_MI * geo.SQ_M_PER_SQ_MILE / math.pi)
    largest = geo.circle(LAT, LNG, radius_m)
    view = bbox(west, south, east, north)
    assert view.contains(largest)
    # Fitted, not merely inside: one zoom step closer would cut the circle, so the view's
    # narrower side is less than twice the circle's diameter (plus the map's padding).
    view_m = (
        geo.haversine_m(LAT, west, LAT, east),
        geo.haversine_m(south, LNG, north, LNG),
    )
    assert min(view_m) < 2 * 2 * radius_m * 1.15
    # The jurisdiction (10 km across) is no longer what the map opens on.
    assert max(view_m) < 10_000
    expect(page.locator("#area-readout")).to_contain_text(f"to {MAX_AREA_SQ_MI:g} sq mi")


@pytest.mark.parametrize("size", list(SIZES))
def test_the_map_stays_put_while_the_readout_changes(
    page: Page, runtime: Runtime, size: str
) -> None:
    draw_map = open_request_map(page, runtime, size)
    readout = page.locator("#area-readout")
    before = page_box(draw_map)
    texts = [readout.inner_text()]

    width, height = before["width"], before["height"]
    corners = [(0.2, 0.2), (0.8, 0.2), (0.8, 0.8), (0.2, 0.8)]
    for n, (fx, fy) in enumerate(corners, start=1):
        draw_map.click(position={"x": width * fx, "y": height * fy})
        expect(draw_map).to_have_attribute("data-vertices", str(n))
        texts.append(readout.inner_text())
        assert page_box(draw_map) == before, f"the map moved after corner {n}"
    page.get_by_role("button", name="Close shape").click()
    expect(draw_map).to_have_attribute("data-closed", "true")
    texts.append(readout.inner_text())
    assert page_box(draw_map) == before

    # Too large an area turns the readout into a warning; the map still does not move.
    page.get_by_label("Circle").check()
    expect(draw_map).to_have_attribute("data-ready", "true")
    circle_box = page_box(draw_map)
    draw_map.click(position={"x": width / 2, "y": height / 2})
    page.get_by_label("Radius (metres)").fill("2000")
    page.get_by_label("Radius (metres)").dispatch_event("change")
    expect(readout).to_have_class("area-readout out-of-bounds")
    expect(readout).to_contain_text("too large")
    texts.append(readout.inner_text())
    assert page_box(draw_map) == circle_box

    assert len(set(texts)) >= 5, texts  # the readout did change all along
