"""Two-factor sign-in in Chromium (issue 15, item 10): a code given a second time in its
30 seconds is called just used, with the advice to wait for the next one, on a desktop
and on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from tests.factories import PASSWORD, enable_totp, make_person, next_code

from doorstep.runtime import Runtime

pytestmark = pytest.mark.browser


def _sign_in(page: Page, email: str, code: str) -> None:
    page.goto("/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/signin/2fa"))
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Continue").click()


@pytest.mark.parametrize(("width", "height"), [(1280, 800), (390, 844)])
def test_the_same_code_twice_is_called_just_used(
    page: Page, runtime: Runtime, width: int, height: int
) -> None:
    page.set_viewport_size({"width": width, "height": height})
    person = make_person(runtime)
    enable_totp(runtime, person)
    code = next_code(runtime, person.user.email)
    assert code is not None

    _sign_in(page, person.user.email, code)
    expect(page).to_have_url(re.compile(r"/timeline$"))
    page.context.clear_cookies()  # as another browser would: signed out, same code

    _sign_in(page, person.user.email, code)
    expect(page).to_have_url(re.compile(r"/signin/2fa"))
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("just used")
    expect(alert).to_contain_text("Wait for the next code")
    expect(alert).not_to_contain_text("not right")
    expect(alert).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    # A code that is simply wrong is still called so.
    page.get_by_label("Code").fill("000000")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("not right")
