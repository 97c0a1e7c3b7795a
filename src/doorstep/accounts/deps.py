"""Who is calling: the principal dependencies for API routes (bearer) and pages (cookie)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from sqlalchemy import Row
from starlette.datastructures import FormData

from doorstep.accounts import api_tokens, sign_in
from doorstep.accounts.models import ApiToken, Role, User, WebSession
from doorstep.errors import Forbidden, Unauthenticated
from doorstep.http import DbSession, ReadSession, SettingsDep, get_runtime
from doorstep.routing import user_principal
from doorstep.web.render import PRE_SESSION_CSRF_COOKIE, Page


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


# How every camera ingest token begins (cameras.registry.CAMERA_TOKEN_PREFIX plus "_"),
# spelled out so that the principal dependencies do not load the cameras domain.
_CAMERA_TOKEN_START = "dsc_"  # noqa: S105 (a label, not a secret)


def required_bearer(request: Request) -> str:
    """The API token the request carries; refused (``token_required``) without one."""
    token = _bearer(request)
    if token is None:
        raise Unauthenticated(
            "Send an API token as 'Authorization: Bearer <token>'.", code="token_required"
        )
    return token


def _token_refusal(token: str) -> Unauthenticated:
    """The refusal of a bearer token that stands for no live user token."""
    if token.startswith(_CAMERA_TOKEN_START):
        return Unauthenticated(
            "This is a camera's ingest token; it only sends that camera's clips and "
            "events. User endpoints need a user API token (POST /api/v1/tokens).",
            code="camera_token",
        )
    return Unauthenticated("This API token is not valid or was revoked.", code="invalid_token")


@user_principal
def api_user(request: Request, session: DbSession) -> User:
    """API callers authenticate with a bearer API token."""
    token = required_bearer(request)
    found = api_tokens.resolve_api_token(session=session, token=token)
    if found is None:
        raise _token_refusal(token)
    user, row = found
    # For api_credential, which depends on this: the token is not read a second time.
    request.state.api_token = (session, row)
    return user


def accepted_caller(token: str, found: Row[Any] | None) -> Row[Any]:
    """The row that ``api_tokens.caller_statement()`` (with whatever a domain joined to
    it) found for ``token``, when the token is live; refused as :func:`api_user` refuses
    otherwise. The principal of a route that reads its caller with its own data in one
    statement; recording the token's use (``api_tokens.use_is_due``) is its to do."""
    if found is None or not api_tokens.token_is_live(
        revoked_at=found.revoked_at, user_is_active=found.is_active
    ):
        raise _token_refusal(token)
    return found


def authenticate_api_user(request: Request) -> None:
    """The route guard's early check of an API user (``routing.EarlyAuthenticators``): the
    bearer token, in a transaction of its own, a write one because a token's use is
    recorded (``last_used_at``)."""
    with get_runtime(request).db.transaction() as session:
        api_user(request, session)


def api_admin(user: Annotated[User, Depends(api_user)]) -> User:
    if user.role != Role.admin:
        raise Forbidden("Only an administrator can do this.", code="admin_only")
    return user


CurrentUser = Annotated[User, Depends(api_user)]
Admin = Annotated[User, Depends(api_admin)]


@dataclass(frozen=True)
class ApiCredential:
    """The caller and the token he called with (for rules on what the token proved)."""

    user: User
    token: ApiToken


def api_credential(
    request: Request, session: DbSession, user: Annotated[User, Depends(api_user)]
) -> ApiCredential:
    read_with, token = getattr(request.state, "api_token", (None, None))
    if read_with is not session or token is None or token.user_id != user.id:
        # api_user accepted it; refuse rather than assume, should it differ
        raise Unauthenticated("This API token is not valid or was revoked.", code="invalid_token")
    return ApiCredential(user=user, token=token)


CurrentCredential = Annotated[ApiCredential, Depends(api_credential)]


@dataclass
class PageVisitor:
    """The signed-in user of a page (or None) and the CSRF token of his session."""

    user: User | None
    web_session: WebSession | None

    @property
    def csrf_token(self) -> str:
        return self.web_session.csrf_token if self.web_session else ""


class SignInRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def page_visitor(request: Request, session: DbSession, settings: SettingsDep) -> PageVisitor:
    found = sign_in.resolve_web_session(
        session=session, token=request.cookies.get(settings.cookie_name)
    )
    if found is None:
        return PageVisitor(None, None)
    web_session, user = found
    if web_session.awaiting_second_factor:
        return PageVisitor(None, web_session)
    return PageVisitor(user, web_session)


def page_user(request: Request, visitor: Annotated[PageVisitor, Depends(page_visitor)]) -> User:
    if visitor.user is None:
        query = request.url.query
        raise SignInRequired(f"{request.url.path}?{query}" if query else request.url.path)
    return visitor.user


def page_admin(user: Annotated[User, Depends(page_user)]) -> User:
    if user.role != Role.admin:
        raise Forbidden("Only an instance administrator can see this page.", code="admin_only")
    return user


def page_moderator(user: Annotated[User, Depends(page_user)]) -> User:
    if user.role not in (Role.moderator, Role.admin):
        raise Forbidden("Only a moderator can see this page.", code="moderator_only")
    return user


Visitor = Annotated[PageVisitor, Depends(page_visitor)]
PageUser = Annotated[User, Depends(page_user)]
PageAdmin = Annotated[User, Depends(page_admin)]
PageModerator = Annotated[User, Depends(page_moderator)]


def this_page(request: Request, visitor: Visitor, session: DbSession) -> Page:
    return Page(request, visitor, session)


ThisPage = Annotated[Page, Depends(this_page)]


async def read_page_visitor(request: Request, session: DbSession) -> PageVisitor:
    """``page_visitor``, without a worker thread for a visitor who sent no session cookie
    (there is nothing to read: he is signed out)."""
    settings = get_runtime(request).settings
    if not request.cookies.get(settings.cookie_name):
        return PageVisitor(None, None)
    return await anyio.to_thread.run_sync(page_visitor, request, session, settings)


async def this_read_page(
    request: Request,
    visitor: Annotated[PageVisitor, Depends(read_page_visitor)],
    session: ReadSession,
    primary: DbSession,
) -> Page:
    return Page(request, visitor, session, layout_session=primary)


# A page that only reads: its queries may run on a read replica (``http.ReadSession``).
ReadPage = Annotated[Page, Depends(this_read_page)]


async def checked_form(request: Request, visitor: Visitor) -> FormData:
    """The POSTed form, after its CSRF token matched the session's (or pre-session cookie)."""
    form = await request.form()
    sent = str(form.get("csrf_token") or "")
    expected = visitor.csrf_token or request.cookies.get(PRE_SESSION_CSRF_COOKIE) or ""
    if not expected or not sent or not secrets.compare_digest(sent, expected):
        raise Forbidden(
            "This form expired or did not come from this site. Reload the page and try again.",
            code="csrf_failed",
        )
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def bearer_or_cookie_user(request: Request, session: DbSession, settings: SettingsDep) -> User:
    """Media links work from pages (cookie) and scripts (bearer token) alike."""
    if _bearer(request) is not None:
        return api_user(request, session)
    visitor = page_visitor(request, session, settings)
    if visitor.user is None:
        raise Unauthenticated("Sign in to see this.", code="sign_in_required")
    return visitor.user


AnyUser = Annotated[User, Depends(bearer_or_cookie_user)]


def bearer_token(request: Request) -> str | None:
    return _bearer(request)
