"""HTML routes of the signed-in person's account: the account page, two-factor sign-in
(setup, recovery codes, turning it off) and API tokens."""

from __future__ import annotations

import uuid

import segno
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from doorstep import timezones
from doorstep.accounts import api_tokens, two_factor
from doorstep.accounts import service as account_service
from doorstep.accounts.deps import CheckedForm, PageUser, ThisPage, Visitor
from doorstep.accounts.models import User
from doorstep.http import DbSession
from doorstep.routing import GuardedRoute
from doorstep.web.forms import text
from doorstep.web.render import Page, never_cached, redirect

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

NOTICES = {
    "time_zone_saved": "Saved: pages show times in the zone you chose.",
    "token_revoked": "The token was revoked. Scripts using it stop working now.",
    "totp_on": "Two-factor sign-in is on. You will need a code from your app to sign in.",
    "totp_off": "Two-factor sign-in is off.",
}
TOTP_ON_WITH_CODES = (
    "Two-factor sign-in is on. You will need a code from your app to sign in. "
    "Your API tokens issued without a code were revoked and your other browser sessions "
    "ended: issue new tokens now."
)


def _account_page(page: Page, user: User) -> Response:
    return page.show(
        "accounts/account.html", zone_names=timezones.zone_names(), notice=page.notice(NOTICES)
    )


@router.get("/account", response_class=HTMLResponse)
def account(page: ThisPage, user: PageUser) -> Response:
    return _account_page(page, user)


@router.post("/account/time-zone", response_class=HTMLResponse)
def save_time_zone(page: ThisPage, user: PageUser, form: CheckedForm) -> Response:
    name = text(form.get("time_zone")).strip() or None
    return page.act(
        lambda: account_service.set_time_zone(session=page.session, user=user, name=name),
        done=lambda _: redirect("/account?notice=time_zone_saved"),
        refused=page.refusal(_account_page, user),
    )


def _totp_page(
    page: Page,
    user: User,
    *,
    uri: str | None = None,
    recovery_codes: list[str] | None = None,
    notice: str | None = None,
) -> Response:
    secret = two_factor.totp_secret_in_setup(user)
    if secret and uri is None:
        # The setup in progress: the same URI begin_totp_setup returned for this secret.
        uri = two_factor.totp_provisioning_uri(user)
    qr_svg = segno.make(uri, error="m").svg_inline(border=2, omitsize=True) if uri else None
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) if secret else None
    response = page.show(
        "accounts/totp.html",
        secret=grouped,
        qr_svg=qr_svg,
        recovery_codes=recovery_codes,
        recovery_codes_left=two_factor.recovery_codes_left(session=page.session, user=user),
        notice=notice or page.notice(NOTICES),
    )
    # The shared secret and the recovery codes are shown once and never cached.
    return never_cached(response) if secret or recovery_codes else response


@router.get("/account/2fa", response_class=HTMLResponse)
def totp_page(page: ThisPage, user: PageUser) -> Response:
    return _totp_page(page, user)


@router.post("/account/2fa/setup", response_class=HTMLResponse)
def totp_setup(page: ThisPage, user: PageUser, form: CheckedForm) -> Response:
    return page.act(
        lambda: two_factor.begin_totp_setup(session=page.session, user=user),
        done=lambda uri: _totp_page(page, user, uri=uri),
        refused=page.refusal(_totp_page, user),
    )


@router.post("/account/2fa/confirm", response_class=HTMLResponse)
def totp_confirm(page: ThisPage, visitor: Visitor, user: PageUser, form: CheckedForm) -> Response:
    return page.act(
        lambda: two_factor.confirm_totp_setup(
            session=page.session,
            user=user,
            code=text(form.get("code")),
            # The code was just given in this session: it stays signed in.
            keep_web_session_id=visitor.web_session.id if visitor.web_session else None,
        ),
        # Shown here, once, rather than after a redirect: the plain codes are stored nowhere.
        done=lambda done: _totp_page(
            page, user, recovery_codes=done.recovery_codes, notice=TOTP_ON_WITH_CODES
        ),
        refused=page.refusal(_totp_page, user),
    )


@router.post("/account/2fa/disable", response_class=HTMLResponse)
def totp_disable(page: ThisPage, user: PageUser, form: CheckedForm) -> Response:
    return page.act(
        # A full session of a two-factor account proved the factor at sign-in (or
        # when it was turned on), so the password alone confirms here.
        lambda: two_factor.disable_totp(
            session=page.session,
            user=user,
            code=text(form.get("code")).strip() or None,
            password=text(form.get("password")) or None,
        ),
        done=lambda _: redirect("/account/2fa?notice=totp_off"),
        refused=page.refusal(_totp_page, user),
    )


@router.post("/account/2fa/recovery-codes", response_class=HTMLResponse)
def recovery_codes(page: ThisPage, user: PageUser, form: CheckedForm) -> Response:
    return page.act(
        lambda: two_factor.regenerate_recovery_codes(
            session=page.session, user=user, code=text(form.get("code"))
        ),
        done=lambda codes: _totp_page(page, user, recovery_codes=codes),
        refused=page.refusal(_totp_page, user),
    )


# ---------------------------------------------------------------- API tokens


def _tokens_page(
    page: Page, user: User, *, issued: str | None = None, issued_name: str | None = None
) -> Response:
    response = page.show(
        "accounts/tokens.html",
        tokens=api_tokens.list_api_tokens(session=page.session, user=user),
        issued=issued,
        issued_name=issued_name,
        notice=page.notice(NOTICES),
    )
    return never_cached(response) if issued else response  # the token is shown once


@router.get("/account/tokens", response_class=HTMLResponse)
def tokens(page: ThisPage, user: PageUser) -> Response:
    return _tokens_page(page, user)


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(page: ThisPage, user: PageUser, form: CheckedForm) -> Response:
    name = text(form.get("name")).strip()
    if not 1 <= len(name) <= 80:
        return _tokens_page(
            page.with_error(
                "Give the token a name of 1 to 80 characters, e.g. 'backup script'.", 400
            ),
            user,
        )
    # Every full session of a two-factor account proved the second factor (at sign-in, or
    # when it was turned on: the other sessions ended then), so its tokens carry it.
    row, token = api_tokens.create_api_token(
        session=page.session, user=user, name=name, with_second_factor=user.totp_enabled
    )
    return _tokens_page(page, user, issued=token, issued_name=row.name)


@router.post("/account/tokens/{token_id}/rotate", response_class=HTMLResponse)
def rotate_token(
    token_id: uuid.UUID, page: ThisPage, user: PageUser, form: CheckedForm
) -> Response:
    return page.act(
        lambda: api_tokens.rotate_api_token(session=page.session, user=user, token_id=token_id),
        done=lambda issued: _tokens_page(page, user, issued=issued[1], issued_name=issued[0].name),
        refused=page.refusal(_tokens_page, user),
        passes=(404,),
    )


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(
    token_id: uuid.UUID, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    api_tokens.revoke_api_token(session=session, user=user, token_id=token_id)
    return redirect("/account/tokens?notice=token_revoked")
