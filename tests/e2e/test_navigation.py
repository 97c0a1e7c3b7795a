"""The signed-in navigation in Chromium: one row on a desktop, folded behind a menu button
on a phone, and an agency member's own navigation, landing page and request list."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect
from tests.factories import (
    active_request,
    make_agency,
    make_camera,
    make_officer,
    make_person,
    set_policy,
    sign_in_browser,
)

from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser

LAT, LNG = 39.9526, -75.1652
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def _nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Main")


def _open_menu_on_a_phone(page: Page) -> None:
    menu = page.get_by_role("button", name="Menu")
    if page.viewport_size == PHONE:
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
    else:
        expect(menu).to_be_hidden()


def test_the_menu_button_opens_and_closes_the_navigation_on_a_phone(
    page: Page, runtime: Runtime
) -> None:
    page.set_viewport_size(PHONE)
    sign_in_browser(page, make_person(runtime))
    page.goto("/cameras")
    menu = page.get_by_role("button", name="Menu")
    account = _nav(page).get_by_role("link", name="Account")
    expect(menu).to_be_visible()
    expect(menu).to_have_attribute("aria-controls", "main-nav")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(account).to_be_hidden()
    # Folded, the header is one row: the brand and the button side by side.
    brand = page.locator("header.top .brand").bounding_box()
    button = menu.bounding_box()
    assert brand is not None and button is not None
    assert abs(brand["y"] + brand["height"] / 2 - (button["y"] + button["height"] / 2)) < 8

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(account).to_be_visible()
    expect(_nav(page).get_by_role("button", name="Sign out")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(account).to_be_hidden()

    # From the keyboard: Escape closes the open menu and the focus goes back to the button.
    menu.focus()
    page.keyboard.press("Enter")
    expect(account).to_be_visible()
    account.focus()
    page.keyboard.press("Escape")
    expect(account).to_be_hidden()
    expect(menu).to_be_focused()
    expect(menu).to_have_attribute("aria-expanded", "false")


def test_the_navigation_is_one_row_without_a_menu_button_on_a_desktop(
    page: Page, runtime: Runtime
) -> None:
    page.set_viewport_size(DESKTOP)
    sign_in_browser(page, make_person(runtime))
    page.goto("/cameras")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    items = _nav(page).locator(":scope > a, :scope > form")
    tops = set()
    for index in range(items.count()):
        box = items.nth(index).bounding_box()
        assert box is not None
        tops.add(round(box["y"] + box["height"] / 2))
    assert max(tops) - min(tops) <= 4, tops
    expect(_nav(page).get_by_role("link", name="Cameras")).to_be_visible()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_officer_lands_on_his_agency_with_his_own_navigation(
    page: Page, runtime: Runtime, viewport: dict[str, int]
) -> None:
    page.set_viewport_size(viewport)
    set_policy(runtime, moderator_review=False)
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    request_id = active_request(runtime, officer, lat=LAT, lng=LNG, case_number="2026-004711")
    sign_in_browser(page, officer, runtime)  # lands on /agency, not the camera timeline

    expect(page.get_by_role("heading", level=1)).to_have_text(agency.name)
    page.reload()  # the menu closed again
    _open_menu_on_a_phone(page)
    nav = _nav(page)
    for name in ("Agency", "Requests", "New request", "Alerts", "Account"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_be_visible()
    for name in ("Timeline", "Cameras", "Neighbors"):
        expect(nav.get_by_role("link", name=name, exact=True)).to_have_count(0)

    row = page.locator("#requests tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator('td[data-label="Drafted"]')).to_have_text(
        re.compile(r"^\s*\d{4}-\d{2}-\d{2} \d{2}:\d{2}\s*$")
    )
    link = row.get_by_role("link", name="2026-004711", exact=True)
    expect(link).to_be_visible()
    link.click()
    expect(page).to_have_url(re.compile(rf"/agency/requests/{request_id}$"))

    # The navigation's "Requests" goes to the agency's request list.
    _open_menu_on_a_phone(page)
    _nav(page).get_by_role("link", name="Requests", exact=True).click()
    expect(page).to_have_url(re.compile(r"/agency#requests$"))
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


def test_an_officer_who_owns_a_camera_also_gets_the_owner_pages(
    page: Page, runtime: Runtime
) -> None:
    page.set_viewport_size(DESKTOP)
    officer = make_officer(runtime, make_agency(runtime, lat=LAT, lng=LNG))
    make_camera(runtime, officer.user, latitude=LAT, longitude=LNG)
    sign_in_browser(page, officer, runtime)
    nav = _nav(page)
    expect(nav.get_by_role("link", name="Agency", exact=True)).to_be_visible()
    expect(nav.get_by_role("link", name="Cameras", exact=True)).to_be_visible()
    nav.get_by_role("link", name="Asked of me", exact=True).click()
    expect(page).to_have_url(re.compile(r"/requests$"))
