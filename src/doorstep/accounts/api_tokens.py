"""API tokens: bearer tokens for scripts and devices, issued, rotated and revoked by their
owner. The plain token is shown once; only its SHA-256 is stored. Every change is audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, or_, select, update
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.accounts.models import ApiToken, User
from doorstep.accounts.service import AuditTrail
from doorstep.db import utcnow
from doorstep.errors import Conflict, InvalidInput, NotFound
from doorstep.security import new_token, token_digest

API_TOKEN_PREFIX = "dsk"  # noqa: S105 (a label, not a secret)


_TOKENS = AuditTrail("api_token")


def create_api_token(
    *, session: Session, user: User, name: str, with_second_factor: bool = False
) -> tuple[ApiToken, str]:
    """Issue a bearer token; the plain token is returned once and stored hashed. Audited.

    ``with_second_factor`` says the caller checked a second factor of a user who has
    two-factor sign-in on; only such tokens act for an agency.
    """
    if with_second_factor and not user.totp_enabled:
        raise InvalidInput(
            "A token can only carry a second factor for an account with two-factor sign-in.",
            code="totp_not_enabled",
        )
    token = new_token(API_TOKEN_PREFIX)
    row = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=token_digest(token),
        prefix=token[:10],
        with_second_factor=with_second_factor,
    )
    session.add(row)
    session.flush()
    details = {"name": name, "with_second_factor": with_second_factor}
    _TOKENS.record(session, user, audit.AuditAction.API_TOKEN_CREATED, row.id, **details)
    return row, token


def _own_token(*, session: Session, user: User, token_id: uuid.UUID) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise NotFound("No such token.")
    return row


def rotate_api_token(*, session: Session, user: User, token_id: uuid.UUID) -> tuple[ApiToken, str]:
    """Replace a token's secret: the old one stops working at once. Audited."""
    row = _own_token(session=session, user=user, token_id=token_id)
    if row.revoked_at is not None:
        raise Conflict("This token was revoked.", code="token_revoked")
    token = new_token(API_TOKEN_PREFIX)
    row.token_hash = token_digest(token)
    row.prefix = token[:10]
    row.created_at = utcnow()
    _TOKENS.record(session, user, audit.AuditAction.API_TOKEN_ROTATED, row.id, name=row.name)
    session.flush()
    return row, token


def revoke_api_token(*, session: Session, user: User, token_id: uuid.UUID) -> ApiToken:
    """Revoke one of the user's tokens (at once; revoking twice changes nothing). Audited."""
    row = _own_token(session=session, user=user, token_id=token_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        _TOKENS.record(session, user, audit.AuditAction.API_TOKEN_REVOKED, row.id, name=row.name)
    session.flush()
    return row


def list_api_tokens(*, session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at)
        )
    )


# How often a token's use is recorded: ``last_used_at`` is rewritten at most this often, so
# that a token in steady use costs no write on each request.
TOKEN_USE_GRANULARITY = timedelta(minutes=5)


def token_is_live(*, revoked_at: datetime | None, user_is_active: bool) -> bool:
    """Whether a token found by its digest may act: not revoked, its user active."""
    return revoked_at is None and user_is_active


def use_is_due(last_used_at: datetime | None, now: datetime) -> bool:
    """Whether a token's use at ``now`` is to be recorded (see ``TOKEN_USE_GRANULARITY``)."""
    return last_used_at is None or now - last_used_at > TOKEN_USE_GRANULARITY


def resolve_api_token(*, session: Session, token: str) -> tuple[User, ApiToken] | None:
    """The active user and the live token row a bearer token stands for, or None. One
    query reads both (it runs on every API request)."""
    found = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_digest(token))
    ).first()
    if found is None:
        return None
    row, user = found
    if not token_is_live(revoked_at=row.revoked_at, user_is_active=user.is_active):
        return None
    now = utcnow()
    if use_is_due(row.last_used_at, now):
        row.last_used_at = now
    return user, row


def caller_statement() -> Select[*tuple[Any, ...]]:
    """The columns of a bearer token and its user that a principal needs (``token_id``,
    ``revoked_at``, ``last_used_at``, ``user_id``, ``role``, ``is_active``), as plain
    columns for a path that builds no ORM objects; its ``token_hash`` parameter takes
    :func:`security.token_digest` of the token. Another domain may join its own columns
    to it (the feed joins the home) so that one statement reads all it needs."""
    return (
        select(
            ApiToken.id.label("token_id"),
            ApiToken.revoked_at,
            ApiToken.last_used_at,
            User.id.label("user_id"),
            User.role,
            User.is_active,
        )
        .join_from(ApiToken, User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == bindparam("token_hash"))
    )


def record_token_use(*, session: Session, token_id: uuid.UUID, now: datetime) -> None:
    """Record a token's use at ``now`` (for a path that read it as plain columns), unless
    a request beside this one recorded a later one."""
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now),
        )
        .values(last_used_at=now)
    )


def revoke_password_only_tokens(*, session: Session, user: User) -> int:
    """Revoke the user's live tokens that were issued without a second factor (two-factor
    sign-in was just turned on); returns how many. Audited, one record each."""
    rows = list(
        session.scalars(
            select(ApiToken).where(
                ApiToken.user_id == user.id,
                ApiToken.revoked_at.is_(None),
                ApiToken.with_second_factor.is_(False),
            )
        )
    )
    now = utcnow()
    for row in rows:
        row.revoked_at = now
        _TOKENS.record(
            session,
            user,
            audit.AuditAction.API_TOKEN_REVOKED,
            row.id,
            name=row.name,
            reason="two_factor_enabled",
        )
    session.flush()
    return len(rows)


def drop_second_factor_marks(*, session: Session, user: User) -> None:
    """Clear the second-factor mark of every token of the user (two-factor sign-in was
    turned off, so the factor they proved is gone)."""
    session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id).values(with_second_factor=False)
    )
