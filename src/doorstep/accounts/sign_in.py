"""Sign-in and browser sessions: password checks throttled per account and per address,
the second factor of a half-open session, and the session cookie's lifecycle.

The cookie carries a random token; only its hash is stored. A full sign-in is audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.accounts import two_factor
from doorstep.accounts.models import SignInAttempt, User, WebSession
from doorstep.accounts.service import normalize_email, record_account_action
from doorstep.config import Settings
from doorstep.db import utcnow
from doorstep.errors import RateLimited, Unauthenticated
from doorstep.security import (
    hash_password,
    new_token,
    password_needs_rehash,
    token_digest,
    verify_password,
)

SESSION_TOKEN_PREFIX = "dss"  # noqa: S105 (a label, not a secret)


def _check_throttle(*, session: Session, settings: Settings, email: str, ip_address: str) -> None:
    since = utcnow() - timedelta(seconds=settings.login_window_s)
    failures_for = (
        select(func.count())
        .select_from(SignInAttempt)
        .where(SignInAttempt.at >= since, SignInAttempt.succeeded.is_(False))
    )
    # The account is checked first: its refusal is the one a user is shown when both apply.
    limits = (
        (
            SignInAttempt.email == email,
            settings.login_max_failures_per_account,
            "for this account",
            "too_many_attempts_account",
        ),
        (
            SignInAttempt.ip_address == ip_address,
            settings.login_max_failures_per_address,
            "from this address",
            "too_many_attempts_address",
        ),
    )
    for matches, most, whose, code in limits:
        if (session.scalar(failures_for.where(matches)) or 0) >= most:
            raise RateLimited(
                f"Too many failed sign-ins {whose}. Try again later.",
                code=code,
                retry_after_s=settings.login_window_s,
            )


class SignInFailed(Unauthenticated):
    code = "invalid_credentials"


class SignInCodeAlreadyUsed(Unauthenticated, code=two_factor.CodeAlreadyUsed.code):
    """A sign-in whose right TOTP code was already used in its step (401, like a wrong
    code, but told apart so the person waits for the next code)."""


@dataclass
class CredentialCheck:
    user: User | None
    # The caller must commit even on failure, so the failed attempt counts.
    failure: SignInFailed | None


def check_credentials(
    *,
    session: Session,
    settings: Settings,
    email: str,
    password: str,
    ip_address: str,
) -> CredentialCheck:
    """Check a password, throttled per account and per address.

    The attempt is recorded either way; on failure the caller commits the
    attempt and then raises ``failure`` (so throttling survives the rollback).
    """
    email = normalize_email(email)
    _check_throttle(session=session, settings=settings, email=email, ip_address=ip_address)
    user = session.scalar(select(User).where(User.email == email))
    ok = verify_password(user.password_hash if user else None, password)
    if user is not None and not user.is_active:
        ok = False
    session.add(SignInAttempt(email=email, ip_address=ip_address, succeeded=ok))
    session.flush()
    if not ok or user is None:
        return CredentialCheck(None, SignInFailed("Wrong email or password."))
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return CredentialCheck(user, None)


def record_failed_second_factor(*, session: Session, user: User, ip_address: str) -> None:
    """Count a wrong second-factor code as a failed sign-in (so guesses are throttled)."""
    session.add(SignInAttempt(email=user.email, ip_address=ip_address, succeeded=False))
    session.flush()


def checked_second_factor(
    *, session: Session, user: User, code: str | None, ip_address: str
) -> str | None:
    """``two_factor.verify_second_factor``, with a wrong or replayed code counted as a
    failed sign-in. A replayed code raises ``SignInCodeAlreadyUsed``, once counted."""
    try:
        method = two_factor.verify_second_factor(session=session, user=user, code=code)
    except two_factor.CodeAlreadyUsed as exc:
        record_failed_second_factor(session=session, user=user, ip_address=ip_address)
        raise SignInCodeAlreadyUsed(exc.message) from exc
    if method is None:
        record_failed_second_factor(session=session, user=user, ip_address=ip_address)
    return method


def start_web_session(
    *,
    session: Session,
    settings: Settings,
    user: User,
    ip_address: str,
    awaiting_second_factor: bool,
) -> tuple[str, WebSession]:
    """Open a browser session; returns the cookie token (only its hash is stored)."""
    token = new_token(SESSION_TOKEN_PREFIX)
    web_session = WebSession(
        id=token_digest(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        awaiting_second_factor=awaiting_second_factor,
        expires_at=utcnow() + timedelta(days=settings.session_days),
        ip_address=ip_address,
    )
    session.add(web_session)
    if not awaiting_second_factor:
        _audit_sign_in(session=session, user=user, ip_address=ip_address, method="password")
    session.flush()
    return token, web_session


def _audit_sign_in(*, session: Session, user: User, ip_address: str, method: str) -> None:
    record_account_action(
        session=session,
        user=user,
        action=audit.AuditAction.SESSION_SIGNED_IN,
        details={"method": method, "ip_address": ip_address},
    )


def complete_second_factor(
    *,
    session: Session,
    settings: Settings,
    web_session: WebSession,
    user: User,
    code: str,
    ip_address: str,
) -> bool:
    """Turn a half-open session into a full one when the TOTP code (or an unused
    recovery code) is right.

    Code guesses count as failed sign-ins and are throttled like passwords; so does a
    code given again in its step, which raises ``SignInCodeAlreadyUsed`` after the
    attempt is recorded (the caller commits it, as for a wrong code).
    """
    _check_throttle(session=session, settings=settings, email=user.email, ip_address=ip_address)
    method = checked_second_factor(session=session, user=user, code=code, ip_address=ip_address)
    if method is None:
        return False
    web_session.awaiting_second_factor = False
    _audit_sign_in(session=session, user=user, ip_address=ip_address, method=f"password+{method}")
    session.flush()
    return True


def resolve_web_session(*, session: Session, token: str | None) -> tuple[WebSession, User] | None:
    """The live session and its active user a cookie token stands for, or None."""
    if not token:
        return None
    web_session = session.get(WebSession, token_digest(token))
    if web_session is None or web_session.expires_at <= utcnow():
        return None
    user = session.get(User, web_session.user_id)
    if user is None or not user.is_active:
        return None
    return web_session, user


def end_web_session(*, session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(WebSession).where(WebSession.id == token_digest(token)))
