"""JSON routes for accounts: sign-up, API tokens, two-factor sign-in and recovery codes,
roles, preferences, push subscriptions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from doorstep.accounts import api_tokens, sign_in, two_factor
from doorstep.accounts import service as account_service
from doorstep.accounts.deps import Admin, CurrentCredential, CurrentUser
from doorstep.accounts.schemas import (
    NotificationPreferenceRead,
    NotificationPreferenceUpdate,
    PushSubscriptionCreate,
    RecoveryCodes,
    RoleChange,
    TimeZoneUpdate,
    TokenCreate,
    TokenIssued,
    TokenRead,
    TwoFactorCode,
    TwoFactorDisable,
    TwoFactorEnabled,
    TwoFactorEnrolment,
    TwoFactorStatus,
    UserCreate,
    UserRead,
)
from doorstep.errors import Unauthenticated
from doorstep.http import ClientAddress, DbSession, RuntimeDep, SettingsDep
from doorstep.routing import GuardedRoute

router = APIRouter(prefix="/api/v1", tags=["accounts"], route_class=GuardedRoute)


@router.post("/users", response_model=UserRead, status_code=status.HTTP_201_CREATED)
def sign_up(body: UserCreate, session: DbSession) -> UserRead:
    return UserRead.model_validate(account_service.sign_up(session=session, form=body))


@router.get("/users/me", response_model=UserRead)
def me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


@router.put("/users/me/time-zone", response_model=UserRead)
def set_time_zone(body: TimeZoneUpdate, user: CurrentUser, session: DbSession) -> UserRead:
    """Show times in this zone on every page (API times stay UTC, with their offset)."""
    account_service.set_time_zone(session=session, user=user, name=body.time_zone)
    return UserRead.model_validate(user)


@router.post("/tokens", response_model=TokenIssued, status_code=status.HTTP_201_CREATED)
def issue_token(
    body: TokenCreate, runtime: RuntimeDep, settings: SettingsDep, ip: ClientAddress
) -> TokenIssued:
    """Exchange email, password (and, when two-factor is on, a TOTP code or one unused
    recovery code) for an API token. Only a token issued with a second factor acts for an
    agency."""
    # Failed attempts are committed on their own so throttling counts them.
    with runtime.db.transaction() as session:
        check = sign_in.check_credentials(
            session=session,
            settings=settings,
            email=body.email,
            password=body.password,
            ip_address=ip,
        )
        user = check.user
        second_factor_missing = False
        replayed: sign_in.SignInCodeAlreadyUsed | None = None
        if user is not None and user.totp_enabled:
            try:
                method = sign_in.checked_second_factor(
                    session=session,
                    user=user,
                    code=body.totp_code or body.recovery_code,
                    ip_address=ip,
                )
            except sign_in.SignInCodeAlreadyUsed as exc:
                method, replayed = None, exc
            if method is None:
                user = None
                second_factor_missing = True
    if check.failure is not None:
        raise check.failure
    if replayed is not None:
        raise replayed
    if user is None:
        raise Unauthenticated(
            "This account has two-factor sign-in: send a current 'totp_code' (or an unused "
            "'recovery_code').",
            code="totp_required" if second_factor_missing else "invalid_credentials",
        )
    with runtime.db.transaction() as session:
        user = session.merge(user)
        row, token = api_tokens.create_api_token(
            session=session, user=user, name=body.name, with_second_factor=user.totp_enabled
        )
        return TokenIssued(**TokenRead.model_validate(row).model_dump(), token=token)


@router.get("/tokens", response_model=list[TokenRead])
def list_tokens(user: CurrentUser, session: DbSession) -> list[TokenRead]:
    return [
        TokenRead.model_validate(t) for t in api_tokens.list_api_tokens(session=session, user=user)
    ]


@router.post("/tokens/{token_id}/rotate", response_model=TokenIssued)
def rotate_token(token_id: uuid.UUID, user: CurrentUser, session: DbSession) -> TokenIssued:
    row, token = api_tokens.rotate_api_token(session=session, user=user, token_id=token_id)
    return TokenIssued(**TokenRead.model_validate(row).model_dump(), token=token)


@router.delete("/tokens/{token_id}", response_model=TokenRead)
def revoke_token(token_id: uuid.UUID, user: CurrentUser, session: DbSession) -> TokenRead:
    return TokenRead.model_validate(
        api_tokens.revoke_api_token(session=session, user=user, token_id=token_id)
    )


# ---------------------------------------------------------------- two-factor sign-in


@router.get("/users/me/two-factor", response_model=TwoFactorStatus)
def two_factor_status(user: CurrentUser, session: DbSession) -> TwoFactorStatus:
    return TwoFactorStatus(
        enabled=user.totp_enabled,
        setup_in_progress=two_factor.totp_secret_in_setup(user) is not None,
        recovery_codes_left=two_factor.recovery_codes_left(session=session, user=user),
    )


@router.post(
    "/users/me/two-factor", response_model=TwoFactorEnrolment, status_code=status.HTTP_201_CREATED
)
def enrol_two_factor(
    user: CurrentUser, session: DbSession, response: Response
) -> TwoFactorEnrolment:
    """Start (or restart) the setup: a new secret, not enforced until confirmed."""
    uri = two_factor.begin_totp_setup(session=session, user=user)
    secret = two_factor.totp_secret_in_setup(user)
    assert secret is not None
    response.headers["Cache-Control"] = "no-store"  # the shared secret is never cached
    return TwoFactorEnrolment(secret=secret, otpauth_uri=uri)


@router.post("/users/me/two-factor/confirm", response_model=TwoFactorEnabled)
def confirm_two_factor(
    body: TwoFactorCode, user: CurrentUser, session: DbSession, response: Response
) -> TwoFactorEnabled:
    """Turn two-factor sign-in on with a code from the app. Revokes every password-only
    token of the account (the one making this call too, if it is one) and ends its
    browser sessions; returns the recovery codes once."""
    done = two_factor.confirm_totp_setup(session=session, user=user, code=body.code)
    response.headers["Cache-Control"] = "no-store"
    return TwoFactorEnabled(recovery_codes=done.recovery_codes, revoked_tokens=done.revoked_tokens)


@router.post("/users/me/two-factor/disable", response_model=UserRead)
def disable_two_factor(
    body: TwoFactorDisable, credential: CurrentCredential, session: DbSession
) -> UserRead:
    """Turn two-factor sign-in off, confirmed by a current code or the password, with a
    token that was itself issued with a second factor."""
    two_factor.disable_totp(
        session=session,
        user=credential.user,
        code=body.code,
        password=body.password,
        caller_proved_second_factor=credential.token.with_second_factor,
    )
    return UserRead.model_validate(credential.user)


@router.post("/users/me/recovery-codes", response_model=RecoveryCodes)
def regenerate_recovery_codes(
    body: TwoFactorCode, credential: CurrentCredential, session: DbSession, response: Response
) -> RecoveryCodes:
    """A new set of recovery codes for a current TOTP code, with a token issued with a
    second factor; the old set stops working."""
    codes = two_factor.regenerate_recovery_codes(
        session=session,
        user=credential.user,
        code=body.code,
        caller_proved_second_factor=credential.token.with_second_factor,
    )
    response.headers["Cache-Control"] = "no-store"
    return RecoveryCodes(recovery_codes=codes)


# ---------------------------------------------------------------- roles, preferences


@router.put("/users/{user_id}/role", response_model=UserRead)
def change_role(user_id: uuid.UUID, body: RoleChange, admin: Admin, session: DbSession) -> UserRead:
    return UserRead.model_validate(
        account_service.change_role(session=session, actor=admin, user_id=user_id, role=body.role)
    )


@router.get("/users/me/notification-preferences", response_model=NotificationPreferenceRead)
def get_preferences(user: CurrentUser, session: DbSession) -> NotificationPreferenceRead:
    return NotificationPreferenceRead.model_validate(
        account_service.get_preferences(session=session, user=user)
    )


@router.patch("/users/me/notification-preferences", response_model=NotificationPreferenceRead)
def update_preferences(
    body: NotificationPreferenceUpdate, user: CurrentUser, session: DbSession
) -> NotificationPreferenceRead:
    prefs = account_service.update_preferences(
        session=session,
        user=user,
        in_app=body.in_app,
        email=body.email,
        push=body.push,
        event_kinds=[k.value for k in body.event_kinds] if body.event_kinds is not None else None,
    )
    return NotificationPreferenceRead.model_validate(prefs)


@router.post("/users/me/push-subscriptions", status_code=status.HTTP_201_CREATED)
def add_push_subscription(
    body: PushSubscriptionCreate, user: CurrentUser, session: DbSession
) -> dict[str, str]:
    sub = account_service.add_push_subscription(
        session=session, user=user, endpoint=body.endpoint, p256dh=body.p256dh, auth=body.auth
    )
    return {"id": str(sub.id)}
