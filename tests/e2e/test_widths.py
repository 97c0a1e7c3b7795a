"""The pages fit a phone: at 390 px wide (and on a desktop) no page scrolls sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from tests.e2e.site_pages import LAT, LNG, build_site
from tests.factories import make_camera, make_person, sign_in_browser

from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser


def _sideways(page: Page, paths: list[str]) -> dict[str, int]:
    """Each path whose page is wider than the window, with its width."""
    wide = {}
    for path in paths:
        answer = page.goto(path)
        assert answer is not None and answer.status < 400, (path, answer and answer.status)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > page.viewport_size["width"]:  # type: ignore[index]
            wide[path] = width
    return wide


@pytest.mark.parametrize("width", [390, 1280])
def test_no_page_scrolls_sideways(page: Page, runtime: Runtime, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 844})
    site = build_site(runtime)
    wide: dict[str, int] = {}
    for person, paths in site.visits:
        page.context.clear_cookies()
        if person is not None:
            sign_in_browser(page, person, runtime if person is site.officer else None)
        wide |= _sideways(page, paths)
    assert wide == {}


# The distinct line tops of an element's text: 1 when it does not wrap.
TEXT_LINES = """element => {
  const range = document.createRange();
  range.selectNodeContents(element);
  return new Set([...range.getClientRects()].map(rect => Math.round(rect.top))).size;
}"""


@pytest.mark.parametrize("width", [390, 1280])
def test_the_camera_forms_legends_sit_on_one_line(page: Page, runtime: Runtime, width: int) -> None:
    """A legend that wraps runs across its fieldset's border."""
    page.set_viewport_size({"width": width, "height": 844})
    resident = make_person(runtime)
    camera = make_camera(runtime, resident.user, latitude=LAT, longitude=LNG).camera
    sign_in_browser(page, resident)
    for path in ("/cameras/new", f"/cameras/{camera.id}"):
        page.goto(path)
        legends = page.locator("fieldset.position legend")
        assert legends.count() == 1, path
        assert legends.first.evaluate(TEXT_LINES) == 1, path
