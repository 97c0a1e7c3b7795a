"""The account pages, driven through their HTML forms like a browser would."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.factories import (
    HTML,
    PASSWORD,
    codes_around_now,
    csrf_of,
    form_error,
    make_agency,
    make_officer,
    make_person,
    next_code,
    submit_sign_in,
    turn_on_two_factor_in_pages,
)

from doorstep.accounts.models import ApiToken, Role, SignInAttempt, User
from doorstep.accounts.pages import safe_next
from doorstep.runtime import Runtime


def count(runtime: Runtime, stmt: object) -> int:
    with runtime.db.transaction() as session:
        return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]


def test_home_explains_and_links_when_signed_out(client: TestClient) -> None:
    r = client.get("/", headers=HTML)
    assert r.status_code == 200
    assert 'href="/signin"' in r.text and 'href="/signup"' in r.text
    assert "camera" in r.text.lower()


def test_sign_up_sign_out_sign_in(client: TestClient, runtime: Runtime) -> None:
    page = client.get("/signup", headers=HTML)
    assert page.status_code == 200
    r = client.post(
        "/signup",
        data={
            "csrf_token": csrf_of(page.text),
            "email": "Ana@Example.org",
            "display_name": "Ana",
            "password": PASSWORD,
        },
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/timeline"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{runtime.settings.cookie_name}=dss_")
    for attribute in ("HttpOnly", "Secure", "SameSite=lax", "Path=/", "Max-Age=1209600"):
        assert attribute in cookie
    timeline = client.get("/timeline", headers=HTML)
    assert timeline.status_code == 200 and "Sign out" in timeline.text
    assert client.get("/", headers=HTML, follow_redirects=False).headers["location"] == "/timeline"

    r = client.post(
        "/signout",
        data={"csrf_token": csrf_of(timeline.text)},
        headers=HTML,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    assert runtime.settings.cookie_name not in client.cookies
    r = client.get("/cameras", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=/cameras"

    r = submit_sign_in(client, "ana@example.org", next="/cameras")
    assert r.status_code == 303 and r.headers["location"] == "/cameras"  # type: ignore[attr-defined]
    assert client.get("/cameras", headers=HTML).status_code == 200


def test_sign_up_errors_are_shown_on_the_form(client: TestClient, runtime: Runtime) -> None:
    make_person(runtime, email="taken@example.org")
    token = csrf_of(client.get("/signup", headers=HTML).text)
    base = {"csrf_token": token, "display_name": "Bo", "password": PASSWORD}

    r = client.post("/signup", data={**base, "email": "bo@example.org", "password": "short"})
    assert r.status_code == 400 and "Password" in form_error(r.text)
    r = client.post("/signup", data={**base, "email": "not-an-email"})
    assert r.status_code == 400 and "Email" in form_error(r.text)
    r = client.post("/signup", data={**base, "email": "TAKEN@example.org"}, headers=HTML)
    assert r.status_code == 409
    assert form_error(r.text) == "An account with this email already exists."
    assert 'value="TAKEN@example.org"' in r.text  # the form keeps what was typed
    assert count(runtime, select(func.count()).select_from(User)) == 1


def test_forms_without_the_right_csrf_token_are_refused(
    client: TestClient, runtime: Runtime
) -> None:
    signup = {"email": "eve@example.org", "display_name": "Eve", "password": PASSWORD}
    client.get("/signup", headers=HTML)  # gets a pre-session CSRF cookie
    r = client.post("/signup", data=signup, headers=HTML)
    assert r.status_code == 403 and "did not come from this site" in r.text
    r = client.post("/signup", data={**signup, "csrf_token": "forged"}, headers=HTML)
    assert r.status_code == 403
    assert count(runtime, select(func.count()).select_from(User)) == 0

    person = make_person(runtime)
    submit_sign_in(client, person.user.email)
    before = count(runtime, select(func.count()).select_from(ApiToken))
    r = client.post("/account/tokens", data={"name": "x", "csrf_token": "forged"}, headers=HTML)
    assert r.status_code == 403
    # A token from another browser session (here: the anonymous pre-session) is no good either.
    anonymous = TestClient(client.app, base_url="https://testserver")
    other_token = csrf_of(anonymous.get("/signup", headers=HTML).text)
    r = client.post("/account/tokens", data={"name": "x", "csrf_token": other_token})
    assert r.status_code == 403
    r = client.post("/signout", data={}, headers=HTML, follow_redirects=False)
    assert r.status_code == 403
    assert count(runtime, select(func.count()).select_from(ApiToken)) == before
    assert client.get("/account", headers=HTML).status_code == 200  # still signed in


def test_wrong_password_is_counted_then_rate_limited(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    for _ in range(runtime.settings.login_max_failures_per_account):
        r = submit_sign_in(client, person.user.email, password="wrong password")
        assert r.status_code == 401  # type: ignore[attr-defined]
        assert form_error(r.text) == "Wrong email or password."  # type: ignore[attr-defined]
        assert f'value="{person.user.email}"' in r.text  # type: ignore[attr-defined]
    failed = select(func.count()).select_from(SignInAttempt).where(~SignInAttempt.succeeded)
    assert count(runtime, failed) == runtime.settings.login_max_failures_per_account
    r = submit_sign_in(client, person.user.email)  # even the right password, for now
    assert r.status_code == 429  # type: ignore[attr-defined]
    assert "Too many failed sign-ins" in form_error(r.text)  # type: ignore[attr-defined]
    assert r.headers["retry-after"] == str(runtime.settings.login_window_s)  # type: ignore[attr-defined]
    assert runtime.settings.cookie_name not in client.cookies


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/path",
        "/\\evil.example",
        "/\\/evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/ok\nLocation: https://evil.example",
    ],
)
def test_sign_in_refuses_to_redirect_elsewhere(
    client: TestClient, runtime: Runtime, target: str
) -> None:
    person = make_person(runtime)
    page = client.get("/signin", params={"next": target}, headers=HTML)
    if "\n" in target:
        # A control character in a query parameter is refused outright (the input rule);
        # the form posted from a clean page must still not follow it.
        assert page.status_code == 422 and "next: control character" in page.text
        page = client.get("/signin", headers=HTML)
    else:
        assert 'name="next" value="/timeline"' in page.text
    r = client.post(
        "/signin",
        data={
            "csrf_token": csrf_of(page.text),
            "email": person.user.email,
            "password": PASSWORD,
            "next": target,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/timeline"


def test_safe_next_keeps_local_paths() -> None:
    assert safe_next("/cameras/abc?x=1#top") == "/cameras/abc?x=1#top"
    assert safe_next("/") == "/"
    for bad in ("", None, "//x", "/\\x", "http://x/", "x", "/a b", "/a\\b"):
        assert safe_next(bad) == "/timeline"


def _wrong_code(secret: str) -> str:
    valid = set(codes_around_now(secret).values())
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def test_two_factor_sign_in(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    submit_sign_in(client, person.user.email)
    secret = turn_on_two_factor_in_pages(client, runtime)
    assert "Two-factor sign-in is on" in client.get("/account/2fa?notice=totp_on").text
    page = client.get("/account", headers=HTML)
    client.post("/signout", data={"csrf_token": csrf_of(page.text)})

    r = submit_sign_in(client, person.user.email, next="/cameras")
    assert r.status_code == 303  # type: ignore[attr-defined]
    assert r.headers["location"] == "/signin/2fa?next=/cameras"  # type: ignore[attr-defined]
    # Half signed in: nothing else is open yet.
    r = client.get("/timeline", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")
    page = client.get("/signin/2fa?next=/cameras", headers=HTML)
    assert page.status_code == 200
    failed = select(func.count()).select_from(SignInAttempt).where(~SignInAttempt.succeeded)
    before = count(runtime, failed)
    r = client.post(
        "/signin/2fa",
        data={"csrf_token": csrf_of(page.text), "code": _wrong_code(secret), "next": "/cameras"},
        headers=HTML,
    )
    assert r.status_code == 401 and "not right" in form_error(r.text)
    assert count(runtime, failed) == before + 1  # committed: it counts for throttling
    r = client.post(
        "/signin/2fa",
        data={
            "csrf_token": csrf_of(page.text),
            "code": codes_around_now(secret)[1],
            "next": "/cameras",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/cameras"
    assert client.get("/timeline", headers=HTML).status_code == 200


def test_two_factor_can_be_turned_off_with_a_code(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    submit_sign_in(client, person.user.email)
    secret = turn_on_two_factor_in_pages(client, runtime)
    page = client.get("/account/2fa", headers=HTML)
    assert "Turn off two-factor sign-in" in page.text and "<svg" not in page.text
    r = client.post(
        "/account/2fa/disable",
        data={"csrf_token": csrf_of(page.text), "code": _wrong_code(secret)},
        headers=HTML,
    )
    assert r.status_code == 400 and "not right" in form_error(r.text)
    r = client.post(
        "/account/2fa/disable",
        data={"csrf_token": csrf_of(page.text), "code": codes_around_now(secret)[1]},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/account/2fa?notice=totp_off"
    with runtime.db.transaction() as session:
        assert session.get(User, person.user.id).totp_enabled is False  # type: ignore[union-attr]


def test_second_factor_page_needs_a_password_first(client: TestClient) -> None:
    r = client.get("/signin/2fa", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin"


def test_api_tokens_create_rotate_revoke(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    other = make_person(runtime)
    submit_sign_in(client, person.user.email)
    page = client.get("/account/tokens", headers=HTML)
    r = client.post("/account/tokens", data={"csrf_token": csrf_of(page.text), "name": ""})
    assert r.status_code == 400 and form_error(r.text)
    r = client.post(
        "/account/tokens", data={"csrf_token": csrf_of(page.text), "name": "backup script"}
    )
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    token = re.search(r'<pre class="token"><code>(dsk_[^<]+)</code>', r.text).group(1)  # type: ignore[union-attr]
    me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    listing = client.get("/account/tokens", headers=HTML).text
    assert "backup script" in listing and token not in listing  # shown once only

    with runtime.db.transaction() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.name == "backup script"))
        assert row is not None
        token_id = row.id
        others = session.scalar(select(ApiToken.id).where(ApiToken.user_id == other.user.id))
    r = client.post(f"/account/tokens/{token_id}/rotate", data={"csrf_token": csrf_of(page.text)})
    rotated = re.search(r'<pre class="token"><code>(dsk_[^<]+)</code>', r.text).group(1)  # type: ignore[union-attr]
    assert rotated != token
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/users/me", headers=bearer).status_code == 401
    bearer = {"Authorization": f"Bearer {rotated}"}
    assert client.get("/api/v1/users/me", headers=bearer).status_code == 200

    r = client.post(
        f"/account/tokens/{token_id}/revoke",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert r.headers["location"] == "/account/tokens?notice=token_revoked"
    assert client.get("/api/v1/users/me", headers=bearer).status_code == 401
    assert "revoked" in client.get(r.headers["location"], headers=HTML).text

    # Someone else's token: 404, untouched.
    r = client.post(
        f"/account/tokens/{others}/revoke", data={"csrf_token": csrf_of(page.text)}, headers=HTML
    )
    assert r.status_code == 404
    assert client.get("/api/v1/users/me", headers=other.headers).status_code == 200


def test_second_factor_guesses_are_throttled(client: TestClient, runtime: Runtime) -> None:
    person = make_person(runtime)
    submit_sign_in(client, person.user.email)
    secret = turn_on_two_factor_in_pages(client, runtime)
    client.post("/signout", data={"csrf_token": csrf_of(client.get("/account").text)})
    submit_sign_in(client, person.user.email)
    page = client.get("/signin/2fa", headers=HTML)
    statuses = [
        client.post(
            "/signin/2fa",
            data={"csrf_token": csrf_of(page.text), "code": _wrong_code(secret)},
            headers=HTML,
        ).status_code
        for _ in range(runtime.settings.login_max_failures_per_account + 1)
    ]
    assert statuses[-1] == 429


def test_an_agency_member_lands_on_his_agency_page(client: TestClient, runtime: Runtime) -> None:
    officer = make_officer(runtime, make_agency(runtime, lat=39.95, lng=-75.16))
    r = submit_sign_in(client, officer.user.email)
    assert r.status_code == 303 and r.headers["location"] == "/signin/2fa?next=/timeline"
    page = client.get(r.headers["location"], headers=HTML)
    code = next_code(runtime, officer.user.email)
    r = client.post(
        "/signin/2fa",
        data={"csrf_token": csrf_of(page.text), "code": code, "next": "/timeline"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/agency"
    for start in ("/", "/signup", "/signin", "/signin/2fa"):
        r = client.get(start, headers=HTML, follow_redirects=False)
        assert r.headers["location"] == "/agency", start
    # A page he asked for still wins over the landing page.
    r = client.get("/signin?next=/cameras", headers=HTML, follow_redirects=False)
    assert r.headers["location"] == "/cameras"


def test_an_agency_member_without_a_second_factor_lands_on_his_agency_page(
    client: TestClient, runtime: Runtime
) -> None:
    member = make_person(runtime, role=Role.agency_member)
    r = submit_sign_in(client, member.user.email)
    assert r.status_code == 303 and r.headers["location"] == "/agency"
    r = submit_sign_in(client, member.user.email, next="/requests")
    assert r.status_code == 303 and r.headers["location"] == "/requests"
