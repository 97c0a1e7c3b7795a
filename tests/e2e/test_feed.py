"""Neighbors in Chromium: posting with a clip, the map of coarse areas, reporting a post.

SQLite only; the tile server is unreachable, so the maps are also checked to work
without tiles.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from h3.api import basic_int as h3_int
from playwright.sync_api import Page, expect
from tests.factories import (
    HOME_LAT,
    HOME_LNG,
    make_camera,
    make_person,
    make_post,
    post_at_cell,
    sample_clip,
    set_home,
    sign_in_browser,
    upload_clip,
)

from doorstep import geo
from doorstep.accounts.models import Role
from doorstep.feed.models import Category
from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in").first).to_be_visible()


def wait_for_the_copy(page: Page) -> None:
    """The post's clip shows once the in-process worker made its redacted copy; until then
    its author reads that it is being prepared."""
    for _ in range(120):
        if page.locator("video#post-clip").count():
            return
        expect(page.get_by_role("status").filter(has_text="Preparing the clip")).to_be_visible()
        page.wait_for_timeout(500)
        page.reload()
    raise AssertionError("the post's clip copy was not made within a minute")


def test_post_with_a_clip_and_watch_it(
    page: Page, runtime: Runtime, live_server: str, tmp_path: Path
) -> None:
    person = make_person(runtime)
    set_home(runtime, person)
    cam = make_camera(runtime, person.user, name="Porch")
    with httpx.Client(base_url=live_server, timeout=30) as api:
        r = upload_clip(api, cam, sample_clip(tmp_path), kind="person")  # type: ignore[arg-type]
        assert r.status_code == 201, r.text
    sign_in_browser(page, person.user.email)

    page.goto("/posts/new")
    page.get_by_label("Category").select_option("crime")
    page.get_by_label("Title").fill("Package taken from the porch")
    page.get_by_label("What happened").fill("Suspicious black male on the porch at noon.")
    page.get_by_role("button", name="Post").click()
    # Refused by the server: behaviour first.
    expect(page.get_by_role("alert")).to_contain_text("Describe what the person did")

    page.get_by_label("What did the person do?").fill(
        "Walked up the steps, took the box and left on foot."
    )
    page.get_by_label("What happened").fill("A man took a package from our porch at noon.")
    page.get_by_text("Add a description (optional)").click()
    page.get_by_label("Clothing").fill("green rain jacket")
    page.get_by_label("Shoes").fill("white sneakers")
    page.get_by_label(re.compile("Person at Porch")).check()
    page.get_by_role("button", name="Post").click()

    expect(page).to_have_url(re.compile(r"/posts/[0-9a-f-]+\?notice=posted$"))
    expect(page.get_by_role("heading", name="Package taken from the porch")).to_be_visible()
    expect(page.get_by_text("green rain jacket")).to_be_visible()
    wait_for_the_copy(page)
    video = page.locator("video#post-clip")
    expect(video).to_be_visible()
    video.evaluate("v => v.play()")
    page.wait_for_function(
        "() => { const v = document.querySelector('#post-clip');"
        " return v.currentTime > 0.3 && v.readyState >= 2; }"
    )
    assert video.evaluate("v => v.error") is None

    # A neighbor sees it in his feed and can watch the clip too.
    neighbor = make_person(runtime)
    set_home(runtime, neighbor)
    sign_out(page)
    sign_in_browser(page, neighbor.user.email)
    page.goto("/feed")
    page.get_by_role("link", name=re.compile("Package taken from the porch")).click()
    expect(page.locator("video#post-clip")).to_be_visible()
    page.locator("video#post-clip").evaluate("v => v.play()")
    page.wait_for_function("() => document.querySelector('#post-clip').currentTime > 0.3")


def test_the_map_shows_coarse_areas_without_tiles(page: Page, runtime: Runtime) -> None:
    viewer = make_person(runtime)
    set_home(runtime, viewer)
    author = make_person(runtime)
    set_home(runtime, author, lat=HOME_LAT + 0.5, lng=HOME_LNG)
    origin = geo.cell_of(HOME_LAT, HOME_LNG, geo.COARSE_RESOLUTION)
    near = sorted(h3_int.grid_ring(origin, 1))
    post_at_cell(
        runtime,
        author,
        near[0],
        title="Loose dog near the school",
        category=Category.lost_found_pet,
    )
    post_at_cell(runtime, author, near[3], title="Water main break")
    post_at_cell(runtime, author, near[3], title="Road closed")  # same area: one shape
    make_post(runtime, author, title="Far away post")  # at the author's distant home

    sign_in_browser(page, viewer.user.email)
    page.goto("/feed/map")
    expect(page.locator("#feed-map.leaflet-container")).to_be_visible()
    areas = page.locator("#feed-map path.post-area")
    expect(areas).to_have_count(2)
    expect(page.locator("#feed-map")).to_have_attribute("data-areas", "2")
    expect(page.get_by_text("3 posts on the map.")).to_be_visible()
    expect(page.get_by_text("Far away post")).to_have_count(0)

    page.locator("#feed-map path.area-posts-2").click(force=True)  # near[3]'s two posts
    popup = page.locator(".leaflet-popup-content")
    expect(popup).to_contain_text("Water main break")
    expect(popup).to_contain_text("Road closed")
    popup.get_by_role("link", name="Road closed").click()
    expect(page.get_by_role("heading", name="Road closed")).to_be_visible()
    expect(page.locator("#post-area-map.leaflet-container path.post-area")).to_have_count(1)


def test_report_a_post_and_it_tops_the_queue(page: Page, runtime: Runtime) -> None:
    author = make_person(runtime)
    set_home(runtime, author)
    make_post(runtime, author, title="Garage sale Saturday", category=Category.community)
    post = make_post(runtime, author, title="Stranger on our street")
    neighbor = make_person(runtime)
    set_home(runtime, neighbor)
    moderator = make_person(runtime, role=Role.moderator)

    sign_in_browser(page, neighbor.user.email)
    page.goto("/feed")
    page.get_by_role("link", name=re.compile("Garage sale Saturday")).click()
    page.get_by_label("Reason").select_option("spam")
    page.get_by_role("button", name="Report post").click()
    expect(page.get_by_role("status")).to_contain_text("Thanks for the report")

    page.goto("/feed")
    page.get_by_role("link", name=re.compile("Stranger on our street")).click()
    page.get_by_label("Reason").select_option("profiling")
    page.get_by_label("Note (optional)").fill("Nothing happened; only how he looked.")
    page.get_by_role("button", name="Report post").click()
    expect(page.get_by_role("status")).to_contain_text("Thanks for the report")
    sign_out(page)

    sign_in_browser(page, moderator.user.email)
    page.goto("/moderation")
    items = page.locator("#queue li.queue-item")
    expect(items).to_have_count(2)
    first = items.first
    expect(first).to_contain_text("Stranger on our street")
    expect(first).to_contain_text("profiling")
    expect(first).to_contain_text("Nothing happened; only how he looked.")
    first.get_by_label("Reason").fill("Describes appearance, not behaviour.")
    first.get_by_role("button", name="Hide").click()
    expect(page.get_by_role("status")).to_contain_text("Hidden")
    expect(page.locator("#queue li.queue-item")).to_have_count(1)
    assert str(post.id)


def test_home_picker_places_the_home_and_its_radius(page: Page, runtime: Runtime) -> None:
    """The home picker (static/picker.js under feed.js): a click writes the inputs and
    places the marker with the feed radius drawn around it; a typed position moves it."""
    person = make_person(runtime)
    sign_in_browser(page, person.user.email)
    page.goto("/feed/home")
    expect(page.locator("#home-map.leaflet-container")).to_be_visible()
    latitude, longitude = page.locator("#latitude"), page.locator("#longitude")
    expect(latitude).to_have_value("")
    page.locator("#home-map").click(position={"x": 200, "y": 120})
    expect(page.locator("#home-map .leaflet-marker-icon")).to_have_count(1)
    expect(page.locator("#home-map path.leaflet-interactive")).to_have_count(1)  # the radius
    clicked = (float(latitude.input_value()), float(longitude.input_value()))
    assert -90 <= clicked[0] <= 90 and -180 <= clicked[1] <= 180
    marker_box = page.locator("#home-map .leaflet-marker-icon").bounding_box()
    latitude.fill(str(HOME_LAT))
    longitude.fill(str(HOME_LNG))
    longitude.dispatch_event("change")
    assert page.locator("#home-map .leaflet-marker-icon").bounding_box() != marker_box
