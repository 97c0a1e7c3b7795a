"""JSON routes for accounts: sign-up, API tokens, roles, preferences, push subscriptions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from doorstep.accounts import service as account_service
from doorstep.accounts.deps import Admin, CurrentUser
from doorstep.accounts.schemas import (
    NotificationPreferenceRead,
    NotificationPreferenceUpdate,
    PushSubscriptionCreate,
    RoleChange,
    TokenCreate,
    TokenIssued,
    TokenRead,
    UserCreate,
    UserRead,
)
from doorstep.errors import Unauthenticated
from doorstep.http import ClientAddress, DbSession, RuntimeDep, SettingsDep
from doorstep.routing import GuardedRoute

router = APIRouter(prefix="/api/v1", tags=["accounts"], route_class=GuardedRoute)


@router.post("/users", response_model=UserRead, status_code=status.HTTP_201_CREATED)
def sign_up(body: UserCreate, session: DbSession) -> UserRead:
    user = account_service.create_user(
        session=session,
        actor=None,
        email=body.email,
        display_name=body.display_name,
        password=body.password,
    )
    return UserRead.model_validate(user)


@router.get("/users/me", response_model=UserRead)
def me(user: CurrentUser) -> UserRead:
    return UserRead.model_validate(user)


@router.post("/tokens", response_model=TokenIssued, status_code=status.HTTP_201_CREATED)
def issue_token(
    body: TokenCreate, runtime: RuntimeDep, settings: SettingsDep, ip: ClientAddress
) -> TokenIssued:
    """Exchange email, password (and TOTP code when two-factor is on) for an API token."""
    # Failed attempts are committed on their own so throttling counts them.
    with runtime.db.transaction() as session:
        check = account_service.check_credentials(
            session=session,
            settings=settings,
            email=body.email,
            password=body.password,
            ip_address=ip,
        )
        user = check.user
        if (
            user is not None
            and user.totp_enabled
            and not account_service.verify_totp_code(
                session=session, user=user, code=body.totp_code
            )
        ):
            account_service.record_failed_second_factor(session=session, user=user, ip_address=ip)
            user = None
            second_factor_missing = True
        else:
            second_factor_missing = False
    if check.failure is not None:
        raise check.failure
    if user is None:
        raise Unauthenticated(
            "This account has two-factor sign-in: send a current 'totp_code'.",
            code="totp_required" if second_factor_missing else "invalid_credentials",
        )
    with runtime.db.transaction() as session:
        row, token = account_service.create_api_token(
            session=session, user=session.merge(user), name=body.name
        )
        return TokenIssued(**TokenRead.model_validate(row).model_dump(), token=token)


@router.get("/tokens", response_model=list[TokenRead])
def list_tokens(user: CurrentUser, session: DbSession) -> list[TokenRead]:
    return [
        TokenRead.model_validate(t)
        for t in account_service.list_api_tokens(session=session, user=user)
    ]


@router.post("/tokens/{token_id}/rotate", response_model=TokenIssued)
def rotate_token(token_id: uuid.UUID, user: CurrentUser, session: DbSession) -> TokenIssued:
    row, token = account_service.rotate_api_token(session=session, user=user, token_id=token_id)
    return TokenIssued(**TokenRead.model_validate(row).model_dump(), token=token)


@router.delete("/tokens/{token_id}", response_model=TokenRead)
def revoke_token(token_id: uuid.UUID, user: CurrentUser, session: DbSession) -> TokenRead:
    return TokenRead.model_validate(
        account_service.revoke_api_token(session=session, user=user, token_id=token_id)
    )


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
