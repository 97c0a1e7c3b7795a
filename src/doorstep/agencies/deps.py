"""The agency principal of API routes and pages: every API route that acts for an agency
takes ``AgencyMember`` (or ``AnyAgencyMember`` for media links) instead of ``CurrentUser``,
and every page that acts for one takes ``PageAgencyMember`` (or a role's variant of it).

The services still decide which agency and which role (``require_member``); this is the
one place that decides what the *credential* must have proved: an API token acts for an
agency only if it was issued with a second factor. A page's session of a two-factor
account always proved one (see ``confirm_totp_setup``), so cookies pass as before, and
the page principal is ``agency_service.require_member`` itself: a member of a verified
agency with two-factor sign-in. A member without it gets the page that says so and links
to the setup, not a bare error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import Response

from doorstep.accounts.deps import (
    ApiCredential,
    PageUser,
    ThisPage,
    api_credential,
    api_user,
    bearer_token,
    page_visitor,
)
from doorstep.accounts.models import User
from doorstep.agencies import service as agency_service
from doorstep.agencies.models import Agency, AgencyMembership, MemberRole
from doorstep.errors import DoorstepError, Forbidden, Unauthenticated
from doorstep.http import DbSession, SettingsDep
from doorstep.web.render import Page, PageAnswer, show

SECOND_FACTOR_TOKEN_REQUIRED = "second_factor_token_required"  # noqa: S105 (an error code)


def api_agency_member(
    session: DbSession, credential: Annotated[ApiCredential, Depends(api_credential)]
) -> User:
    """The caller, if his token may act for an agency.

    A user who belongs to no agency passes: the service refuses him with its own,
    more precise answer (not a member, not this agency).
    """
    user = credential.user
    if agency_service.membership_of(session=session, user=user) is None:
        return user
    if not user.totp_enabled:
        # The same refusal the services give, before the token is looked at: the fix
        # is to turn two-factor sign-in on, not to get another token.
        raise Forbidden(
            "Agency members must turn on two-factor sign-in first.",
            code=agency_service.TWO_FACTOR_REQUIRED,
        )
    if not credential.token.with_second_factor:
        raise Forbidden(
            "This API token was issued without a two-factor code, so it cannot act for the "
            "agency. Issue a new one: POST /api/v1/tokens with your email, password and "
            "'totp_code' (or 'recovery_code').",
            code=SECOND_FACTOR_TOKEN_REQUIRED,
        )
    return user


def any_agency_member(request: Request, session: DbSession, settings: SettingsDep) -> User:
    """Media links of agency evidence: a bearer token as above, or a page session."""
    if bearer_token(request) is not None:
        credential = api_credential(request, session, api_user(request, session))
        return api_agency_member(session, credential)
    visitor = page_visitor(request, session, settings)
    if visitor.user is None:
        raise Unauthenticated("Sign in to see this.", code="sign_in_required")
    return visitor.user


AgencyMember = Annotated[User, Depends(api_agency_member)]
AnyAgencyMember = Annotated[User, Depends(any_agency_member)]


# ---------------------------------------------------------------- pages


@dataclass(frozen=True)
class ActingMember:
    """A signed-in member acting for his agency: verified, two-factor sign-in on."""

    user: User
    agency: Agency
    membership: AgencyMembership


def two_factor_page(page: Page, exc: DoorstepError) -> Response:
    """The page for an agency member without two-factor sign-in; other refusals go on."""
    if exc.code != agency_service.TWO_FACTOR_REQUIRED:
        raise exc
    return show(
        page.request,
        "agencies/two_factor.html",
        page.visitor,
        page.session,
        status_code=exc.status_code,
    )


def page_agency_member(
    *, roles: set[MemberRole] | None = None
) -> Callable[[Page, User], ActingMember]:
    """The page dependency for members of a verified agency (in one of ``roles``, if
    given). A member without two-factor sign-in gets the two-factor page; any other
    refusal (not a member, agency not verified, role) goes to the error page."""

    def acting_member(page: ThisPage, user: PageUser) -> ActingMember:
        try:
            agency, membership = agency_service.require_member(
                session=page.session, user=user, roles=roles
            )
        except DoorstepError as exc:
            raise PageAnswer(two_factor_page(page, exc)) from exc
        return ActingMember(user=user, agency=agency, membership=membership)

    return acting_member


PageAgencyMember = Annotated[ActingMember, Depends(page_agency_member())]
