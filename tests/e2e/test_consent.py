"""The consent page in Chromium (issue 15, item 2): the voluntary statement comes first
and stands apart, the notice is structured (who, why, where, when, what the agency
receives), and on a phone the answer buttons are on the first screen."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect
from tests.factories import asked_owners, sign_in_browser

from doorstep.footage.notice import NO_CONSEQUENCE, VOLUNTARY, WHAT_AGENCY_RECEIVES
from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_voluntary_first_and_answers_on_the_first_screen(
    page: Page, runtime: Runtime, live_server: str, tmp_path: Path, width: int, height: int
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    with httpx.Client(base_url=live_server, timeout=30) as api:
        asked = asked_owners(api, runtime, tmp_path)  # type: ignore[arg-type]
    [(owner, _event)] = asked.owners
    sign_in_browser(page, owner.user.email)
    page.goto(f"/requests/{asked.request_id}/answer")

    notice = page.locator("#notice-text")
    voluntary = notice.locator(".voluntary")
    expect(voluntary).to_have_text(f"{VOLUNTARY} {NO_CONSEQUENCE}")
    # First in the notice after its title: nothing of the request comes before it.
    first = notice.locator(":scope > *:not(h3)").first
    expect(first).to_have_class("voluntary")
    labels = notice.locator(".notice-facts dt").all_inner_texts()
    assert labels == ["Who asks", "Why", "Where", "When", "The officer's message",
                      "What the agency receives"]  # fmt: skip
    expect(notice.locator(".notice-facts dd").last).to_have_text(WHAT_AGENCY_RECEIVES)
    # Both answers are on the first screen, without scrolling past the notice.
    for control in (
        page.get_by_role("link", name="Choose clips to share"),
        page.locator("#answer-bar").get_by_role("button", name="Decline"),
    ):
        box = control.bounding_box()
        assert box is not None and box["y"] + box["height"] <= height, (width, box)
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.get_by_role("link", name="Choose clips to share").click()
    expect(page.get_by_role("button", name="Share selected")).to_be_visible()
