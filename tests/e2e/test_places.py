"""Where a post is, in Chromium at desktop and phone sizes: words and a small map, never
the cell's H3 id."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, ViewportSize, expect
from tests.factories import HOME_LAT, HOME_LNG, make_person, make_post, set_home, sign_in_browser

from doorstep import geo
from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser

SIZES: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
H3_ID = re.compile(r"\b8[0-9a-f]{14}\b")


@pytest.mark.parametrize("size", list(SIZES))
def test_a_post_says_where_it_is_in_words_and_on_a_small_map(
    page: Page, runtime: Runtime, size: str
) -> None:
    author = make_person(runtime)
    set_home(runtime, author)
    viewer = make_person(runtime)
    set_home(runtime, viewer, radius_mi=3.0)
    post = make_post(runtime, author, lat=HOME_LAT + 0.02, lng=HOME_LNG, title="Gate left open")
    words = geo.describe_cell(post.coarse_cell, home=(HOME_LAT, HOME_LNG))
    page.set_viewport_size(SIZES[size])
    sign_in_browser(page, viewer.user.email)

    page.goto("/feed")
    card = page.locator(f"#post-{post.id}")
    expect(card.locator(".place")).to_have_text(words)
    assert H3_ID.findall(page.locator("main").inner_text()) == []

    card.get_by_text("Gate left open").click()
    expect(page.locator("#post-place")).to_contain_text(words)
    area_map = page.locator("#post-area-map")
    expect(area_map).to_have_attribute("aria-label", f"Map of where this post is: {words}")
    expect(page.locator("#post-area-map.leaflet-container path.post-area")).to_have_count(1)
    assert H3_ID.findall(page.locator("main").inner_text()) == []
