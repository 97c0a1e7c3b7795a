"""The pages fit a phone: at 390 px wide (and on a desktop) no page scrolls sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from tests.factories import (
    make_agency,
    make_camera,
    make_officer,
    make_person,
    set_home,
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
    resident = make_person(runtime)
    set_home(runtime, resident)
    make_camera(runtime, resident.user, latitude=LAT, longitude=LNG)
    officer = make_officer(runtime, make_agency(runtime, lat=LAT, lng=LNG))
    admin = make_person(runtime, role=Role.admin)
    wide = _sideways(page, PUBLIC)
    sign_in_browser(page, resident)
    wide |= _sideways(page, RESIDENT)
    page.context.clear_cookies()
    sign_in_browser(page, officer, runtime)
    wide |= _sideways(page, OFFICER)
    page.context.clear_cookies()
    sign_in_browser(page, admin)
    wide |= _sideways(page, ADMIN)
    assert wide == {}
