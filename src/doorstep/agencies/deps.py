"""The agency principal of API routes: every route that acts for an agency takes
``AgencyMember`` (or ``AnyAgencyMember`` for media links) instead of ``CurrentUser``.

The services still decide which agency and which role (``require_member``); this is the
one place that decides what the *credential* must have proved: an API token acts for an
agency only if it was issued with a second factor. A page's session of a two-factor
account always proved one (see ``confirm_totp_setup``), so cookies pass as before.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from doorstep.accounts.deps import (
    ApiCredential,
    api_credential,
    api_user,
    bearer_token,
    page_visitor,
)
from doorstep.accounts.models import User
from doorstep.agencies import service as agency_service
from doorstep.errors import Forbidden, Unauthenticated
from doorstep.http import DbSession, SettingsDep

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
