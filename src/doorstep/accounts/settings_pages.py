"""HTML routes of the signed-in person's account: the account page, two-factor sign-in
(setup, recovery codes, turning it off) and API tokens."""

from __future__ import annotations

import uuid

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from doorstep.accounts import api_tokens, two_factor
from doorstep.accounts.deps import CheckedForm, PageUser, PageVisitor, Visitor
from doorstep.accounts.models import User
from doorstep.http import DbSession
from doorstep.routing import GuardedRoute
from doorstep.web.forms import form_action, notice_for, show_refusal, text
from doorstep.web.render import never_cached, redirect, show

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

NOTICES = {
    "token_revoked": "The token was revoked. Scripts using it stop working now.",
    "totp_on": "Two-factor sign-in is on. You will need a code from your app to sign in.",
    "totp_off": "Two-factor sign-in is off.",
}
TOTP_ON_WITH_CODES = (
    "Two-factor sign-in is on. You will need a code from your app to sign in. "
    "Your API tokens issued without a code were revoked and your other browser sessions "
    "ended: issue new tokens now."
)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, visitor: Visitor, user: PageUser, session: DbSession) -> Response:
    return show(
        request, "accounts/account.html", visitor, session, notice=notice_for(request, NOTICES)
    )


def _totp_page(
    request: Request,
    visitor: PageVisitor,
    user: User,
    session: Session,
    *,
    uri: str | None = None,
    recovery_codes: list[str] | None = None,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    secret = two_factor.totp_secret_in_setup(user)
    if secret and uri is None:
        # The setup in progress: the same URI begin_totp_setup returned for this secret.
        uri = two_factor.totp_provisioning_uri(user)
    qr_svg = segno.make(uri, error="m").svg_inline(border=2, omitsize=True) if uri else None
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) if secret else None
    response = show(
        request,
        "accounts/totp.html",
        visitor,
        session,
        status_code=status_code,
        secret=grouped,
        qr_svg=qr_svg,
        recovery_codes=recovery_codes,
        recovery_codes_left=two_factor.recovery_codes_left(session=session, user=user),
        error=error,
        notice=notice or notice_for(request, NOTICES),
    )
    # The shared secret and the recovery codes are shown once and never cached.
    return never_cached(response) if secret or recovery_codes else response


@router.get("/account/2fa", response_class=HTMLResponse)
def totp_page(request: Request, visitor: Visitor, user: PageUser, session: DbSession) -> Response:
    return _totp_page(request, visitor, user, session)


@router.post("/account/2fa/setup", response_class=HTMLResponse)
def totp_setup(
    request: Request, visitor: Visitor, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    return form_action(
        session,
        lambda: two_factor.begin_totp_setup(session=session, user=user),
        done=lambda uri: _totp_page(request, visitor, user, session, uri=uri),
        refused=show_refusal(_totp_page, request, visitor, user, session),
    )


@router.post("/account/2fa/confirm", response_class=HTMLResponse)
def totp_confirm(
    request: Request, visitor: Visitor, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    return form_action(
        session,
        lambda: two_factor.confirm_totp_setup(
            session=session,
            user=user,
            code=text(form.get("code")),
            # The code was just given in this session: it stays signed in.
            keep_web_session_id=visitor.web_session.id if visitor.web_session else None,
        ),
        # Shown here, once, rather than after a redirect: the plain codes are stored nowhere.
        done=lambda done: _totp_page(
            request,
            visitor,
            user,
            session,
            recovery_codes=done.recovery_codes,
            notice=TOTP_ON_WITH_CODES,
        ),
        refused=show_refusal(_totp_page, request, visitor, user, session),
    )


@router.post("/account/2fa/disable", response_class=HTMLResponse)
def totp_disable(
    request: Request, visitor: Visitor, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    return form_action(
        session,
        # A full session of a two-factor account proved the factor at sign-in (or
        # when it was turned on), so the password alone confirms here.
        lambda: two_factor.disable_totp(
            session=session,
            user=user,
            code=text(form.get("code")).strip() or None,
            password=text(form.get("password")) or None,
        ),
        done=lambda _: redirect("/account/2fa?notice=totp_off"),
        refused=show_refusal(_totp_page, request, visitor, user, session),
    )


@router.post("/account/2fa/recovery-codes", response_class=HTMLResponse)
def recovery_codes(
    request: Request, visitor: Visitor, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    return form_action(
        session,
        lambda: two_factor.regenerate_recovery_codes(
            session=session, user=user, code=text(form.get("code"))
        ),
        done=lambda codes: _totp_page(request, visitor, user, session, recovery_codes=codes),
        refused=show_refusal(_totp_page, request, visitor, user, session),
    )


# ---------------------------------------------------------------- API tokens


def _tokens_page(
    request: Request,
    visitor: PageVisitor,
    user: User,
    session: Session,
    *,
    issued: str | None = None,
    issued_name: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    response = show(
        request,
        "accounts/tokens.html",
        visitor,
        session,
        status_code=status_code,
        tokens=api_tokens.list_api_tokens(session=session, user=user),
        issued=issued,
        issued_name=issued_name,
        error=error,
        notice=notice_for(request, NOTICES),
    )
    return never_cached(response) if issued else response  # the token is shown once


@router.get("/account/tokens", response_class=HTMLResponse)
def tokens(request: Request, visitor: Visitor, user: PageUser, session: DbSession) -> Response:
    return _tokens_page(request, visitor, user, session)


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(
    request: Request, visitor: Visitor, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    name = text(form.get("name")).strip()
    if not 1 <= len(name) <= 80:
        return _tokens_page(
            request,
            visitor,
            user,
            session,
            status_code=400,
            error="Give the token a name of 1 to 80 characters, e.g. 'backup script'.",
        )
    # Every full session of a two-factor account proved the second factor (at sign-in, or
    # when it was turned on: the other sessions ended then), so its tokens carry it.
    row, token = api_tokens.create_api_token(
        session=session, user=user, name=name, with_second_factor=user.totp_enabled
    )
    return _tokens_page(request, visitor, user, session, issued=token, issued_name=row.name)


@router.post("/account/tokens/{token_id}/rotate", response_class=HTMLResponse)
def rotate_token(
    token_id: uuid.UUID,
    request: Request,
    visitor: Visitor,
    user: PageUser,
    form: CheckedForm,
    session: DbSession,
) -> Response:
    return form_action(
        session,
        lambda: api_tokens.rotate_api_token(session=session, user=user, token_id=token_id),
        done=lambda issued: _tokens_page(
            request, visitor, user, session, issued=issued[1], issued_name=issued[0].name
        ),
        refused=show_refusal(_tokens_page, request, visitor, user, session),
        passes=(404,),
    )


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(
    token_id: uuid.UUID, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    api_tokens.revoke_api_token(session=session, user=user, token_id=token_id)
    return redirect("/account/tokens?notice=token_revoked")
