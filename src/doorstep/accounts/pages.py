"""HTML routes for coming and going: the start page, sign-up, sign-in (with the second
factor) and sign-out. The account page, two-factor setup and API tokens are in
``accounts.settings_pages``.

The start page lives here because it is where a visitor signs in or up, and a signed-in
one is sent on to the same landing page as after signing in."""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from doorstep.accounts import service as account_service
from doorstep.accounts import sign_in
from doorstep.accounts.deps import CheckedForm, ThisPage, Visitor
from doorstep.accounts.models import Role, User
from doorstep.accounts.schemas import UserCreate
from doorstep.config import Settings
from doorstep.errors import DoorstepError
from doorstep.http import ClientAddress, DbSession, SettingsDep
from doorstep.routing import GuardedRoute
from doorstep.web.forms import text, validated
from doorstep.web.render import Page, redirect, render

router = APIRouter(include_in_schema=False, route_class=GuardedRoute)

DEFAULT_LANDING = "/timeline"
# An agency member's day starts with his agency's requests, not a camera timeline.
AGENCY_LANDING = "/agency"
_SIGNUP_LABELS = {"email": "Email", "display_name": "Display name", "password": "Password"}
# A path on this site: one leading slash, no scheme, no host, no backslash or control chars.
_LOCAL_PATH = re.compile(r"^/(?![/\\])[^\\\s\x00-\x1f\x7f]*$")


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site, never another origin."""
    if value and _LOCAL_PATH.match(value):
        return value
    return DEFAULT_LANDING


def landing_of(user: User, next_path: str = DEFAULT_LANDING) -> str:
    """Where a signed-in user goes: the page he asked for, else his role's first page."""
    if next_path == DEFAULT_LANDING and user.role == Role.agency_member:
        return AGENCY_LANDING
    return next_path


def _signed_in(response: Response, settings: Settings, token: str) -> Response:
    """The response, with the cookie of the web session it starts."""
    response.set_cookie(
        settings.cookie_name,
        token,
        max_age=settings.session_days * 86400,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return response


# ---------------------------------------------------------------- the start page


@router.get("/", response_class=HTMLResponse)
def home(request: Request, visitor: Visitor) -> Response:
    if visitor.user is not None:
        return redirect(landing_of(visitor.user))
    return render(request, "home.html", visitor)


# ---------------------------------------------------------------- sign-up


@router.get("/signup", response_class=HTMLResponse)
def signup_form(page: ThisPage) -> Response:
    if page.visitor.user is not None:
        return redirect(landing_of(page.visitor.user))
    return page.show("accounts/signup.html", values={})


def _parse_signup(values: dict[str, str]) -> UserCreate:
    return validated(UserCreate, values, _SIGNUP_LABELS)


def _create_account(session: Session, settings: Settings, values: dict[str, str], ip: str) -> str:
    """A new account, signed in at once: the token of its first web session."""
    user = account_service.sign_up(session=session, form=_parse_signup(values))
    token, _ = sign_in.start_web_session(
        session=session, settings=settings, user=user, ip_address=ip, awaiting_second_factor=False
    )
    return token


@router.post("/signup", response_class=HTMLResponse)
def signup(page: ThisPage, form: CheckedForm, settings: SettingsDep, ip: ClientAddress) -> Response:
    values = {
        "email": text(form.get("email")),
        "display_name": text(form.get("display_name")),
        "password": text(form.get("password")),
    }
    shown = {"email": values["email"], "display_name": values["display_name"]}
    return page.act(
        lambda: _create_account(page.session, settings, values, ip),
        done=lambda token: _signed_in(redirect(DEFAULT_LANDING), settings, token),
        refused=page.refusal(Page.show, "accounts/signup.html", values=shown),
    )


# ---------------------------------------------------------------- sign-in


@router.get("/signin", response_class=HTMLResponse)
def signin_form(page: ThisPage, next: str = "") -> Response:
    if page.visitor.user is not None:
        return redirect(landing_of(page.visitor.user, safe_next(next)))
    return page.show("accounts/signin.html", next=safe_next(next), email="")


@router.post("/signin", response_class=HTMLResponse)
def signin(page: ThisPage, form: CheckedForm, settings: SettingsDep, ip: ClientAddress) -> Response:
    session = page.session
    email = text(form.get("email")).strip()
    next_path = safe_next(text(form.get("next")))

    def refuse(exc: DoorstepError) -> Response:
        response = page.refused(exc).show("accounts/signin.html", next=next_path, email=email)
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
        return _signed_in(
            redirect(f"/signin/2fa?next={quote(next_path, safe='/')}"), settings, token
        )
    return _signed_in(redirect(landing_of(user, next_path)), settings, token)


@router.get("/signin/2fa", response_class=HTMLResponse)
def second_factor_form(page: ThisPage, visitor: Visitor, next: str = "") -> Response:
    if visitor.user is not None:
        return redirect(landing_of(visitor.user, safe_next(next)))
    if visitor.web_session is None:
        return redirect("/signin")
    return page.show("accounts/signin_2fa.html", next=safe_next(next))


@router.post("/signin/2fa", response_class=HTMLResponse)
def second_factor(
    page: ThisPage, visitor: Visitor, form: CheckedForm, settings: SettingsDep, ip: ClientAddress
) -> Response:
    session = page.session
    next_path = safe_next(text(form.get("next")))
    if visitor.user is not None:
        return redirect(landing_of(visitor.user, next_path))
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
        return page.with_error(error, status_code).show("accounts/signin_2fa.html", next=next_path)
    return redirect(landing_of(user, next_path))


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
