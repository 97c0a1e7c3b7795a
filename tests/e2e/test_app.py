"""doorstep as an app and its alerts, in Chromium on a desktop and a phone: the manifest
and its icons, the offline page the service worker shows without a network, an alert
answered by opening its page, and "Mark all read"."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.factories import sign_in_browser
from tests.notify.footage_alerts import AGENCY, footage_alert

from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser

SIZES = [(1280, 800), (390, 844)]

# The manifest the page links, and each of its icons loaded as an image.
LOAD_MANIFEST = """async () => {
  const href = document.querySelector('link[rel="manifest"]').href;
  const response = await fetch(href);
  const manifest = await response.json();
  const loaded = await Promise.all(manifest.icons.map((icon) => new Promise((done) => {
    const image = new Image();
    image.onload = () => done([icon.sizes, image.naturalWidth + "x" + image.naturalHeight]);
    image.onerror = () => done([icon.sizes, "failed"]);
    image.src = icon.src;
  })));
  return {type: response.headers.get("content-type"), name: manifest.name, loaded};
}"""


def _unread_badge(page: Page) -> str | None:
    badge = page.locator("header.top .badge")
    return badge.text_content() if badge.count() else None


def test_the_manifest_parses_and_its_icons_load(page: Page, runtime: Runtime) -> None:
    page.goto("/signin")
    found = page.evaluate(LOAD_MANIFEST)
    assert found["type"].startswith("application/manifest+json")
    assert found["name"] == runtime.settings.instance_name
    assert found["loaded"] and all(sizes == shown for sizes, shown in found["loaded"])


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_without_a_network_a_page_shows_the_offline_page(
    page: Page, width: int, height: int
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    page.goto("/signin")
    # The page's script registers the worker; it takes this page over once installed.
    page.evaluate("async () => { await navigator.serviceWorker.ready; }")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.context.set_offline(True)
    try:
        page.goto("/transparency")
        expect(page.get_by_role("heading", name="You are offline")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/transparency$"))
    finally:
        page.context.set_offline(False)
    page.reload()
    expect(page.get_by_role("heading", name="You are offline")).to_have_count(0)


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_opening_an_alert_marks_it_read_and_mark_all_read(
    page: Page, runtime: Runtime, live_server: str, width: int, height: int
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    with httpx.Client(base_url=live_server, timeout=30) as api:
        alert = footage_alert(runtime, api)
        unread = api.get(
            "/api/v1/notifications", params={"unread": True}, headers=alert.owner.headers
        ).json()
    assert alert.link in [n["link"] for n in unread]
    sign_in_browser(page, alert.owner)

    page.goto("/notifications")
    before = _unread_badge(page)
    assert before == str(len(unread))
    item = page.locator("li.alert").filter(has=page.locator(f'a[href="{alert.link}"]'))
    expect(item).to_contain_text(f"{AGENCY} · burglary · ")
    expect(item).not_to_contain_text("Sharing is voluntary")  # the notice is on its page
    expect(item.locator(".tag")).to_have_text("new")
    item.get_by_role("link").click()
    expect(page).to_have_url(re.compile(re.escape(alert.link) + "$"))

    page.goto("/notifications")
    item = page.locator("li.alert").filter(has=page.locator(f'a[href="{alert.link}"]'))
    expect(item.locator(".tag")).to_have_count(0)
    assert _unread_badge(page) == (str(len(unread) - 1) if len(unread) > 1 else None)

    if len(unread) > 1:
        page.get_by_role("button", name="Mark all read").click()
        expect(page.get_by_role("status")).to_contain_text("All alerts marked read.")
    expect(page.locator("li.alert.unread")).to_have_count(0)
    assert _unread_badge(page) is None
    width_now = page.evaluate("document.documentElement.scrollWidth")
    assert width_now <= width
