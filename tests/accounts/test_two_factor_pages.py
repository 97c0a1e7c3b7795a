"""Two-factor pages: recovery codes shown once after turning it on and usable to sign in;
turning it on ends the other browser sessions; page-made tokens carry the factor."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import (
    HTML,
    codes_around_now,
    csrf_of,
    form_error,
    make_person,
    submit_sign_in,
    turn_on_two_factor_in_pages,
)

from doorstep.accounts.models import ApiToken, User
from doorstep.runtime import Runtime

CODE = re.compile(r"<li><code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code></li>")


def _other_browser(client: TestClient) -> TestClient:
    return TestClient(client.app, base_url="https://testserver")


def test_recovery_codes_sign_in_once_and_other_sessions_end(
    client: TestClient, runtime: Runtime
) -> None:
    person = make_person(runtime)
    elsewhere = _other_browser(client)
    submit_sign_in(elsewhere, person.user.email)  # password only, before two-factor sign-in
    assert elsewhere.get("/account", headers=HTML, follow_redirects=False).status_code == 200
    submit_sign_in(client, person.user.email)
    # It also checks the answer shows ten recovery codes, uncached.
    secret = turn_on_two_factor_in_pages(client, runtime)
    page = client.get("/account", headers=HTML)
    r = client.get("/account/2fa", headers=HTML)
    assert r.status_code == 200 and "Recovery codes left: <strong>10</strong>" in r.text
    assert not CODE.search(r.text)  # shown once: not on the page again
    # The session opened with the password alone ended; this one stays.
    r = elsewhere.get("/account", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")

    # A token made on the page of a two-factor account carries the factor.
    r = client.post(
        "/account/tokens", data={"csrf_token": csrf_of(page.text), "name": "backup"}, headers=HTML
    )
    assert r.status_code == 200 and 'title="Issued with a second factor' in r.text
    with runtime.db.transaction() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.name == "backup")).one()
        assert row.with_second_factor is True

    # New codes for a current TOTP code are shown once; then one signs in, once.
    r = client.post(
        "/account/2fa/recovery-codes",
        data={"csrf_token": csrf_of(page.text), "code": codes_around_now(secret)[1]},
        headers=HTML,
    )
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    codes = CODE.findall(r.text)
    assert len(codes) == 10

    def sign_in_with(code: str) -> object:
        browser = _other_browser(client)
        r = submit_sign_in(browser, person.user.email)
        assert r.headers["location"].startswith("/signin/2fa")  # type: ignore[attr-defined]
        page = browser.get("/signin/2fa", headers=HTML)
        return browser.post(
            "/signin/2fa",
            data={"csrf_token": csrf_of(page.text), "code": code, "next": "/account"},
            headers=HTML,
            follow_redirects=False,
        )

    r = sign_in_with(codes[0])
    assert r.status_code == 303 and r.headers["location"] == "/account"  # type: ignore[attr-defined]
    r = sign_in_with(codes[0])
    assert r.status_code == 401 and "not right" in form_error(r.text)  # type: ignore[attr-defined]


def test_a_code_used_twice_is_called_just_used_on_the_pages(
    client: TestClient, runtime: Runtime
) -> None:
    """Issue 15, item 10: the second sign-in with the same code is told the code was just
    used (not that it is wrong), and so is the two-factor page that asks for a code."""
    person = make_person(runtime)
    submit_sign_in(client, person.user.email)
    secret = turn_on_two_factor_in_pages(client, runtime)
    code = codes_around_now(secret)[1]

    def second_step(browser: TestClient, code: str) -> object:
        submit_sign_in(browser, person.user.email)
        page = browser.get("/signin/2fa", headers=HTML)
        return browser.post(
            "/signin/2fa",
            data={"csrf_token": csrf_of(page.text), "code": code, "next": "/account"},
            headers=HTML,
            follow_redirects=False,
        )

    first = _other_browser(client)
    r = second_step(first, code)
    assert r.status_code == 303  # type: ignore[attr-defined]
    r = second_step(_other_browser(client), code)
    error = form_error(r.text)  # type: ignore[attr-defined]
    assert r.status_code == 401 and "just used" in error and "next code" in error  # type: ignore[attr-defined]
    assert "not right" not in error
    r = second_step(_other_browser(client), "000000")
    assert r.status_code == 401 and "not right" in form_error(r.text)  # type: ignore[attr-defined]

    # Asking for new recovery codes with the spent code says the same.
    page = first.get("/account/2fa", headers=HTML)
    r = first.post(
        "/account/2fa/recovery-codes",
        data={"csrf_token": csrf_of(page.text), "code": code},
        headers=HTML,
    )
    assert r.status_code == 400 and "just used" in form_error(r.text)
    assert not CODE.search(r.text)


def test_turning_two_factor_on_with_a_used_code_says_so(
    client: TestClient, runtime: Runtime
) -> None:
    person = make_person(runtime)
    submit_sign_in(client, person.user.email)
    page = client.get("/account/2fa", headers=HTML)
    client.post("/account/2fa/setup", data={"csrf_token": csrf_of(page.text)})
    with runtime.db.transaction() as session:
        user = session.get_one(User, person.user.id)
        secret = str(user.totp_secret)
        user.totp_last_step = int(time.time()) // 30 + 1  # this step and the next: spent
    r = client.post(
        "/account/2fa/confirm",
        data={"csrf_token": csrf_of(page.text), "code": codes_around_now(secret)[0]},
        headers=HTML,
    )
    assert r.status_code == 400 and "just used" in form_error(r.text)
    with runtime.db.transaction() as session:
        assert session.get_one(User, person.user.id).totp_enabled is False
