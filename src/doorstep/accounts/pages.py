"""HTML routes for accounts: sign-up, sign-in (with the second factor), sign-out, the
account page, two-factor setup and API tokens."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from doorstep.accounts import api_tokens, sign_in, two_factor
from doorstep.accounts import service as account_service
from doorstep.accounts.deps import PageUser, PageVisitor, Visitor
from doorstep.accounts.models import User
from doorstep.accounts.schemas import UserCreate
from doorstep.config import Settings
from doorstep.errors import DoorstepError
from doorstep.http import ClientAddress, DbSession, SettingsDep
from doorstep.routing import GuardedRoute
from doorstep.web.pages import show, text, validation_message
from doorstep.web.render import CheckedForm, redirect

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

DEFAULT_LANDING = "/timeline"
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
_SIGNUP_LABELS = {"email": "Email", "display_name": "Display name", "password": "Password"}
# A path on this site: one leading slash, no scheme, no host, no backslash or control chars.
_LOCAL_PATH = re.compile(r"^/(?![/\\])[^\\\s\x00-\x1f\x7f]*$")


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site, never another origin."""
    if value and _LOCAL_PATH.match(value):
        return value
    return DEFAULT_LANDING


def _set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        settings.cookie_name,
        token,
        max_age=settings.session_days * 86400,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )


def _notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


# ---------------------------------------------------------------- sign-up


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request, visitor: Visitor, session: DbSession) -> Response:
    if visitor.user is not None:
        return redirect(DEFAULT_LANDING)
    return show(request, "accounts/signup.html", visitor, session, values={})


@router.post("/signup", response_class=HTMLResponse)
def signup(
    request: Request,
    visitor: Visitor,
    form: CheckedForm,
    session: DbSession,
    settings: SettingsDep,
    ip: ClientAddress,
) -> Response:
    values = {
        "email": text(form.get("email")),
        "display_name": text(form.get("display_name")),
        "password": text(form.get("password")),
    }
    shown = {"email": values["email"], "display_name": values["display_name"]}
    try:
        body = UserCreate.model_validate(values)
    except ValidationError as exc:
        return show(
            request,
            "accounts/signup.html",
            visitor,
            session,
            status_code=400,
            values=shown,
            error=validation_message(exc, _SIGNUP_LABELS),
        )
    try:
        with session.begin_nested():
            user = account_service.create_user(
                session=session,
                actor=None,
                email=body.email,
                display_name=body.display_name,
                password=body.password,
            )
            token, _ = sign_in.start_web_session(
                session=session,
                settings=settings,
                user=user,
                ip_address=ip,
                awaiting_second_factor=False,
            )
    except DoorstepError as exc:
        return show(
            request,
            "accounts/signup.html",
            visitor,
            session,
            status_code=exc.status_code,
            values=shown,
            error=exc.message,
        )
    response = redirect(DEFAULT_LANDING)
    _set_session_cookie(response, settings, token)
    return response


# ---------------------------------------------------------------- sign-in


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, visitor: Visitor, session: DbSession, next: str = "") -> Response:
    if visitor.user is not None:
        return redirect(safe_next(next))
    return show(request, "accounts/signin.html", visitor, session, next=safe_next(next), email="")


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request,
    visitor: Visitor,
    form: CheckedForm,
    session: DbSession,
    settings: SettingsDep,
    ip: ClientAddress,
) -> Response:
    email = text(form.get("email")).strip()
    next_path = safe_next(text(form.get("next")))

    def refuse(exc: DoorstepError) -> Response:
        response = show(
            request,
            "accounts/signin.html",
            visitor,
            session,
            status_code=exc.status_code,
            next=next_path,
            email=email,
            error=exc.message,
        )
        if "retry_after_s" in exc.details:
            response.headers["Retry-After"] = str(exc.details["retry_after_s"])
        return response

    try:
        check = sign_in.check_credentials(
            session=session,
            settings=settings,
            email=email,
            password=text(form.get("password")),
            ip_address=ip,
        )
    except DoorstepError as exc:  # throttled: nothing was recorded
        return refuse(exc)
    if check.failure is not None or check.user is None:
        # Returned, not raised: the request's transaction commits the failed attempt,
        # so throttling counts it.
        return refuse(check.failure or sign_in.SignInFailed("Wrong email or password."))
    user = check.user
    token, _ = sign_in.start_web_session(
        session=session,
        settings=settings,
        user=user,
        ip_address=ip,
        awaiting_second_factor=user.totp_enabled,
    )
    if user.totp_enabled:
        response = redirect(f"/signin/2fa?next={quote(next_path, safe='/')}")
    else:
        response = redirect(next_path)
    _set_session_cookie(response, settings, token)
    return response


@router.get("/signin/2fa", response_class=HTMLResponse)
def second_factor_form(
    request: Request, visitor: Visitor, session: DbSession, next: str = ""
) -> Response:
    if visitor.user is not None:
        return redirect(safe_next(next))
    if visitor.web_session is None:
        return redirect("/signin")
    return show(request, "accounts/signin_2fa.html", visitor, session, next=safe_next(next))


@router.post("/signin/2fa", response_class=HTMLResponse)
def second_factor(
    request: Request,
    visitor: Visitor,
    form: CheckedForm,
    session: DbSession,
    settings: SettingsDep,
    ip: ClientAddress,
) -> Response:
    next_path = safe_next(text(form.get("next")))
    if visitor.user is not None:
        return redirect(next_path)
    if visitor.web_session is None:
        return redirect("/signin")
    user = account_service.get_user(session=session, user_id=visitor.web_session.user_id)
    error, status_code = (
        "That code is not right. Use the current code from your authenticator app.",
        401,
    )
    try:
        completed = sign_in.complete_second_factor(
            session=session,
            settings=settings,
            web_session=visitor.web_session,
            user=user,
            code=text(form.get("code")),
            ip_address=ip,
        )
    except DoorstepError as exc:  # e.g. throttled
        completed, error, status_code = False, exc.message, exc.status_code
    if not completed:
        # Returned, not raised: the failed attempt is committed and counts.
        return show(
            request,
            "accounts/signin_2fa.html",
            visitor,
            session,
            status_code=status_code,
            next=next_path,
            error=error,
        )
    return redirect(next_path)


@router.post("/signout")
def signout(
    request: Request, form: CheckedForm, session: DbSession, settings: SettingsDep
) -> Response:
    sign_in.end_web_session(session=session, token=request.cookies.get(settings.cookie_name))
    response = redirect("/signin")
    response.delete_cookie(
        settings.cookie_name,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return response


# ---------------------------------------------------------------- account


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, visitor: Visitor, user: PageUser, session: DbSession) -> Response:
    return show(request, "accounts/account.html", visitor, session, notice=_notice(request))


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
        notice=notice or _notice(request),
    )
    if secret or recovery_codes:
        # The shared secret and the recovery codes are shown once and never cached.
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/account/2fa", response_class=HTMLResponse)
def totp_page(request: Request, visitor: Visitor, user: PageUser, session: DbSession) -> Response:
    return _totp_page(request, visitor, user, session)


@router.post("/account/2fa/setup", response_class=HTMLResponse)
def totp_setup(
    request: Request, visitor: Visitor, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    try:
        with session.begin_nested():
            uri = two_factor.begin_totp_setup(session=session, user=user)
    except DoorstepError as exc:
        return _totp_page(
            request, visitor, user, session, error=exc.message, status_code=exc.status_code
        )
    return _totp_page(request, visitor, user, session, uri=uri)


@router.post("/account/2fa/confirm", response_class=HTMLResponse)
def totp_confirm(
    request: Request, visitor: Visitor, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    try:
        with session.begin_nested():
            done = two_factor.confirm_totp_setup(
                session=session,
                user=user,
                code=text(form.get("code")),
                # The code was just given in this session: it stays signed in.
                keep_web_session_id=visitor.web_session.id if visitor.web_session else None,
            )
    except DoorstepError as exc:
        return _totp_page(
            request, visitor, user, session, error=exc.message, status_code=exc.status_code
        )
    # Shown here, once, rather than after a redirect: the plain codes are stored nowhere.
    return _totp_page(
        request,
        visitor,
        user,
        session,
        recovery_codes=done.recovery_codes,
        notice=TOTP_ON_WITH_CODES,
    )


@router.post("/account/2fa/disable", response_class=HTMLResponse)
def totp_disable(
    request: Request, visitor: Visitor, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    try:
        with session.begin_nested():
            # A full session of a two-factor account proved the factor at sign-in (or
            # when it was turned on), so the password alone confirms here.
            two_factor.disable_totp(
                session=session,
                user=user,
                code=text(form.get("code")).strip() or None,
                password=text(form.get("password")) or None,
            )
    except DoorstepError as exc:
        return _totp_page(
            request, visitor, user, session, error=exc.message, status_code=exc.status_code
        )
    return redirect("/account/2fa?notice=totp_off")


@router.post("/account/2fa/recovery-codes", response_class=HTMLResponse)
def recovery_codes(
    request: Request, visitor: Visitor, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    try:
        with session.begin_nested():
            codes = two_factor.regenerate_recovery_codes(
                session=session, user=user, code=text(form.get("code"))
            )
    except DoorstepError as exc:
        return _totp_page(
            request, visitor, user, session, error=exc.message, status_code=exc.status_code
        )
    return _totp_page(request, visitor, user, session, recovery_codes=codes)


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
        notice=_notice(request),
    )
    if issued:
        response.headers["Cache-Control"] = "no-store"  # the token is shown once, never cached
    return response


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
    try:
        with session.begin_nested():
            row, token = api_tokens.rotate_api_token(session=session, user=user, token_id=token_id)
    except DoorstepError as exc:
        if exc.status_code == 404:
            raise
        return _tokens_page(
            request, visitor, user, session, error=exc.message, status_code=exc.status_code
        )
    return _tokens_page(request, visitor, user, session, issued=token, issued_name=row.name)


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(
    token_id: uuid.UUID, user: PageUser, form: CheckedForm, session: DbSession
) -> Response:
    api_tokens.revoke_api_token(session=session, user=user, token_id=token_id)
    return redirect("/account/tokens?notice=token_revoked")
