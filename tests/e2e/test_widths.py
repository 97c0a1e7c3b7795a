"""The pages fit a phone: at 390 px wide (and on a desktop) no page scrolls sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from tests.factories import (
    active_request,
    make_agency,
    make_camera,
    make_officer,
    make_person,
    make_post,
    set_home,
    set_policy,
    sign_in_browser,
)

from doorstep.accounts.models import Role
from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser

LAT, LNG = 39.9526, -75.1652

PUBLIC = ["/", "/signin", "/signup", "/transparency", "/transparency/agencies",
          "/transparency/requests", "/transparency/policy", "/transparency/audit",
          "/transparency/datasets"]  # fmt: skip
RESIDENT = ["/timeline", "/cameras", "/cameras/new", "/feed", "/feed/map", "/feed/home",
            "/feed/mine", "/feed/guidelines", "/posts/new", "/account", "/account/2fa",
            "/account/notifications", "/account/tokens", "/notifications", "/requests",
            "/agencies/apply"]  # fmt: skip
OFFICER = ["/agency", "/agency/requests/new", "/feed/tips"]
ADMIN = ["/admin/agencies", "/admin/records", "/moderation", "/moderation/requests"]


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
    set_policy(runtime, moderator_review=False)
    resident = make_person(runtime)
    set_home(runtime, resident)
    camera = make_camera(runtime, resident.user, latitude=LAT, longitude=LNG).camera
    post = make_post(runtime, resident, lat=LAT, lng=LNG)
    agency = make_agency(runtime, lat=LAT, lng=LNG)
    officer = make_officer(runtime, agency)
    request_id = active_request(runtime, officer, lat=LAT, lng=LNG)
    admin = make_person(runtime, role=Role.admin)
    wide = _sideways(page, [*PUBLIC, f"/transparency/agencies/{agency.id}"])
    sign_in_browser(page, resident)
    wide |= _sideways(
        page,
        [
            *RESIDENT,
            f"/cameras/{camera.id}",
            f"/cameras/{camera.id}/delete",
            f"/posts/{post.id}",
            f"/posts/{post.id}/edit",
            "/requests/shared",
            "/agency/invitations/accept",
        ],
    )
    page.context.clear_cookies()
    sign_in_browser(page, officer, runtime)
    wide |= _sideways(page, [*OFFICER, f"/agency/requests/{request_id}"])
    page.context.clear_cookies()
    sign_in_browser(page, admin)
    wide |= _sideways(page, ADMIN)
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
