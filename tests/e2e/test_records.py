"""End to end in Chromium: an admin links a dataset's name to an agency from the review
page, and the public dataset page shows the partner's figures, the per-year chart and
the partners' map; no page of the datasets is wider than the window, at a desktop's
and a phone's width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from tests.factories import make_person, sign_in_browser
from tests.transparency.portal import make_public_agency
from tests.transparency.records_support import KIND, load_dataset, partner_since
from tests.transparency.records_support import agencies as agencies

from doorstep.accounts.models import Role
from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser


def _fits(page: Page, path: str) -> None:
    answer = page.goto(path)
    assert answer is not None and answer.status == 200, path
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (path, width)  # type: ignore[index]


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_admin_links_a_name_and_the_dataset_page_shows_it(
    page: Page, runtime: Runtime, agencies: dict[str, Any], tmp_path: Path, width: int, height: int
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    load_dataset(runtime, tmp_path)
    partner_since(runtime, agencies["springfield"], 5)
    ohio = make_public_agency(runtime, name="Springfield Township Police", state="OH", lat=39.9)
    admin = make_person(runtime, role=Role.admin)

    sign_in_browser(page, admin)
    _fits(page, "/admin/records")
    group = page.locator('li.review-group[data-name="Springfield PD"]')
    group.get_by_role("button", name="Link to Springfield Township Police (OH)").click()
    expect(page.get_by_role("status")).to_contain_text("The name is now an alias")
    expect(page.locator('li.review-group[data-name="Springfield PD"]')).to_have_count(0)
    expect(page.locator("#identifier-list")).to_contain_text("Springfield PD")

    page.context.clear_cookies()
    _fits(page, "/transparency/datasets")
    page.get_by_role("link", name=KIND).click()
    row = page.locator(f'#partner-table tr[data-agency-id="{ohio.id}"]')
    expect(row.locator('td[data-label="Total"]')).to_have_text("1")
    springfield = page.locator(f'#partner-table tr[data-agency-id="{agencies["springfield"].id}"]')
    expect(springfield.locator('td[data-label="During"]')).to_have_text("2")
    expect(page.locator("#coverage-warnings")).to_contain_text("Shelbyville")
    expect(page.locator("#dataset-chart svg rect.bar")).not_to_have_count(0)
    partners_map = page.locator("#dataset-map")
    expect(partners_map).to_have_attribute("data-ready", "true")
    expect(partners_map).to_have_attribute("data-markers", "3")  # Springfield, Smith, Ohio
    width_now = page.evaluate("document.documentElement.scrollWidth")
    assert width_now <= width
    _fits(page, f"/transparency/agencies/{ohio.id}")
    expect(page.locator("#agency-identifiers")).to_contain_text("Springfield PD")
