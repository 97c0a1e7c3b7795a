"""Accounts: every rule about users, sign-in, sessions, tokens, roles and preferences."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import pyotp
from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.accounts import recovery
from doorstep.accounts.models import (
    ApiToken,
    NotificationPreference,
    PushSubscription,
    Role,
    SignInAttempt,
    User,
    WebSession,
)
from doorstep.audit import Actor
from doorstep.cameras.models import EventKind
from doorstep.config import Settings
from doorstep.db import utcnow
from doorstep.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from doorstep.security import (
    hash_password,
    new_token,
    password_needs_rehash,
    token_digest,
    verify_password,
)

API_TOKEN_PREFIX = "dsk"  # noqa: S105 (a label, not a secret)
SESSION_TOKEN_PREFIX = "dss"  # noqa: S105
DEFAULT_ALERT_KINDS = [k.value for k in EventKind]


def actor_of(user: User) -> Actor:
    return Actor(id=user.id, label=f"user:{user.id}")


def normalize_email(email: str) -> str:
    return email.strip().lower()


# ---------------------------------------------------------------- users


def create_user(
    *,
    session: Session,
    actor: Actor | None,
    email: str,
    display_name: str,
    password: str,
    role: Role = Role.resident,
) -> User:
    """Create an account with an argon2 password hash and default alert preferences.

    Refuses a taken email (409). Accounts with a role above resident are audited.
    """
    email = normalize_email(email)
    if len(password) < 10:
        raise InvalidInput("Passwords need at least 10 characters.", code="weak_password")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("An account with this email already exists.", code="email_taken")
    user = User(
        email=email,
        display_name=display_name.strip(),
        password_hash=hash_password(password),
        role=role,
    )
    session.add(user)
    session.flush()
    session.add(NotificationPreference(user_id=user.id, event_kinds=list(DEFAULT_ALERT_KINDS)))
    if role != Role.resident:
        audit.record(
            session=session,
            actor=actor or Actor.system(),
            action=audit.AuditAction.USER_ROLE_CHANGED,
            subject_type="user",
            subject_id=user.id,
            details={"from": None, "to": role.value},
        )
    session.flush()
    return user


def get_user(*, session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def change_role(*, session: Session, actor: User, user_id: uuid.UUID, role: Role) -> User:
    """Only an admin changes roles; every change is audited in the same transaction."""
    if actor.role != Role.admin:
        raise Forbidden("Only an administrator can change roles.", code="admin_only")
    user = get_user(session=session, user_id=user_id)
    if user.id == actor.id and role != Role.admin:
        raise InvalidInput("Administrators cannot demote themselves.", code="self_demotion")
    previous = user.role
    user.role = role
    audit.record(
        session=session,
        actor=actor_of(actor),
        action=audit.AuditAction.USER_ROLE_CHANGED,
        subject_type="user",
        subject_id=user.id,
        details={"from": previous.value, "to": role.value},
    )
    session.flush()
    return user


# ---------------------------------------------------------------- sign-in


def _check_throttle(*, session: Session, settings: Settings, email: str, ip_address: str) -> None:
    since = utcnow() - timedelta(seconds=settings.login_window_s)
    failures_for = (
        select(func.count())
        .select_from(SignInAttempt)
        .where(SignInAttempt.at >= since, SignInAttempt.succeeded.is_(False))
    )
    by_account = session.scalar(failures_for.where(SignInAttempt.email == email)) or 0
    if by_account >= settings.login_max_failures_per_account:
        raise RateLimited(
            "Too many failed sign-ins for this account. Try again later.",
            code="too_many_attempts_account",
            retry_after_s=settings.login_window_s,
        )
    by_address = session.scalar(failures_for.where(SignInAttempt.ip_address == ip_address)) or 0
    if by_address >= settings.login_max_failures_per_address:
        raise RateLimited(
            "Too many failed sign-ins from this address. Try again later.",
            code="too_many_attempts_address",
            retry_after_s=settings.login_window_s,
        )


class SignInFailed(Unauthenticated):
    code = "invalid_credentials"


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
    session.add(SignInAttempt(email=user.email, ip_address=ip_address, succeeded=False))
    session.flush()


def verify_totp_code(*, session: Session, user: User, code: str | None) -> bool:
    """Accept a current TOTP code once (a used time step cannot be replayed)."""
    if not user.totp_secret or not code:
        return False
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return False
    totp = pyotp.TOTP(user.totp_secret)
    now = utcnow()
    for drift in (-1, 0, 1):
        at = now + timedelta(seconds=30 * drift)
        step = int(at.timestamp()) // 30
        if secrets.compare_digest(totp.at(at), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False
            user.totp_last_step = step
            session.flush()
            return True
    return False


def verify_second_factor(*, session: Session, user: User, code: str | None) -> str | None:
    """Accept a current TOTP code or one unused recovery code (spent by this call).

    Returns how the factor was given (``"totp"`` or ``"recovery_code"``), or None.
    """
    if not user.totp_enabled:
        return None
    if verify_totp_code(session=session, user=user, code=code):
        return "totp"
    if recovery.use_code(session=session, user=user, code=code):
        return "recovery_code"
    return None


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
    audit.record(
        session=session,
        actor=actor_of(user),
        action=audit.AuditAction.SESSION_SIGNED_IN,
        subject_type="user",
        subject_id=user.id,
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

    Code guesses count as failed sign-ins and are throttled like passwords.
    """
    _check_throttle(session=session, settings=settings, email=user.email, ip_address=ip_address)
    method = verify_second_factor(session=session, user=user, code=code)
    if method is None:
        record_failed_second_factor(session=session, user=user, ip_address=ip_address)
        return False
    web_session.awaiting_second_factor = False
    _audit_sign_in(session=session, user=user, ip_address=ip_address, method=f"password+{method}")
    session.flush()
    return True


def resolve_web_session(*, session: Session, token: str | None) -> tuple[WebSession, User] | None:
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


# ---------------------------------------------------------------- API tokens


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
    audit.record(
        session=session,
        actor=actor_of(user),
        action=audit.AuditAction.API_TOKEN_CREATED,
        subject_type="api_token",
        subject_id=row.id,
        details={"name": name, "with_second_factor": with_second_factor},
    )
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
    audit.record(
        session=session,
        actor=actor_of(user),
        action=audit.AuditAction.API_TOKEN_ROTATED,
        subject_type="api_token",
        subject_id=row.id,
        details={"name": row.name},
    )
    session.flush()
    return row, token


def revoke_api_token(*, session: Session, user: User, token_id: uuid.UUID) -> ApiToken:
    row = _own_token(session=session, user=user, token_id=token_id)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(
            session=session,
            actor=actor_of(user),
            action=audit.AuditAction.API_TOKEN_REVOKED,
            subject_type="api_token",
            subject_id=row.id,
            details={"name": row.name},
        )
    session.flush()
    return row


def list_api_tokens(*, session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at)
        )
    )


def user_for_api_token(*, session: Session, token: str) -> User | None:
    found = resolve_api_token(session=session, token=token)
    return found[0] if found else None


def resolve_api_token(*, session: Session, token: str) -> tuple[User, ApiToken] | None:
    """The active user and the live token row a bearer token stands for, or None."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
        row.last_used_at = now
    return user, row


def _revoke_password_only_tokens(*, session: Session, user: User) -> int:
    """Revoke the user's live tokens that were issued without a second factor. Audited."""
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
        audit.record(
            session=session,
            actor=actor_of(user),
            action=audit.AuditAction.API_TOKEN_REVOKED,
            subject_type="api_token",
            subject_id=row.id,
            details={"name": row.name, "reason": "two_factor_enabled"},
        )
    session.flush()
    return len(rows)


# ---------------------------------------------------------------- two-factor


TOTP_ISSUER = "doorstep"


def totp_provisioning_uri(user: User) -> str | None:
    """The otpauth:// URI of a setup in progress (for the QR code), or None."""
    if not user.totp_secret:
        return None
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)


def totp_secret_in_setup(user: User) -> str | None:
    """The shared secret of a setup in progress (shown once more for typing in), or None."""
    return user.totp_secret if not user.totp_enabled else None


def begin_totp_setup(*, session: Session, user: User) -> str:
    """Store a fresh secret (not yet enforced) and return its provisioning URI."""
    if user.totp_enabled:
        raise Conflict("Two-factor sign-in is already on.", code="totp_already_enabled")
    user.totp_secret = pyotp.random_base32()
    session.flush()
    uri = totp_provisioning_uri(user)
    assert uri is not None
    return uri


@dataclass
class TwoFactorEnabled:
    """What turning two-factor sign-in on did: the recovery codes (plain, shown once),
    how many password-only API tokens were revoked and browser sessions ended."""

    recovery_codes: list[str]
    revoked_tokens: int
    ended_sessions: int


def confirm_totp_setup(
    *, session: Session, user: User, code: str, keep_web_session_id: str | None = None
) -> TwoFactorEnabled:
    """Turn two-factor sign-in on once the user proves the app works. Audited.

    Every credential that proved only the password stops working: the user's
    password-only API tokens are revoked and his other browser sessions end (the one in
    ``keep_web_session_id``, where the code was just given, stays). Revoking rather than
    keeping them with fewer powers is deliberate: a password-only token of a two-factor
    account would otherwise keep every power that rules check by the account alone
    (official posts, tips, whatever comes next), and a stolen password would go on
    working as if two-factor sign-in were off. Issuing a new token takes one request.
    A fresh set of recovery codes is made and returned once.
    """
    if user.totp_enabled:
        raise Conflict("Two-factor sign-in is already on.", code="totp_already_enabled")
    if not user.totp_secret:
        raise InvalidInput("Start the two-factor setup first.", code="totp_not_started")
    if not verify_totp_code(session=session, user=user, code=code):
        raise InvalidInput(
            "That code is not right. Check the clock of your phone.", code="invalid_totp_code"
        )
    user.totp_enabled = True
    revoked = _revoke_password_only_tokens(session=session, user=user)
    other_sessions = delete(WebSession).where(WebSession.user_id == user.id)
    if keep_web_session_id is not None:
        other_sessions = other_sessions.where(WebSession.id != keep_web_session_id)
    ended = cast("CursorResult[Any]", session.execute(other_sessions)).rowcount or 0
    audit.record(
        session=session,
        actor=actor_of(user),
        action=audit.AuditAction.USER_TOTP_ENABLED,
        subject_type="user",
        subject_id=user.id,
        details={"revoked_tokens": revoked, "ended_sessions": ended},
    )
    codes = recovery.replace_codes(session=session, user=user)
    session.flush()
    return TwoFactorEnabled(recovery_codes=codes, revoked_tokens=revoked, ended_sessions=ended)


def disable_totp(
    *,
    session: Session,
    user: User,
    code: str | None = None,
    password: str | None = None,
    caller_proved_second_factor: bool = True,
) -> None:
    """Turn two-factor sign-in off, given a current code (TOTP or recovery) or the password.

    Only a caller whose own credential proved a second factor may do it (a browser
    session of a two-factor account always did; an API token only if issued with a code).
    Otherwise an old password-only token could remove the factor, by the password or by
    guessing codes here, where guesses are not throttled like sign-ins, and then enrol
    the thief's app. The user's tokens lose their second-factor mark (the factor they
    proved is gone), so turning two-factor sign-in on again revokes them. Audited.
    """
    if not user.totp_enabled:
        raise Conflict("Two-factor sign-in is off.", code="totp_not_enabled")
    _require_second_factor_caller(caller_proved_second_factor)
    if code:
        if verify_second_factor(session=session, user=user, code=code) is None:
            raise InvalidInput(
                "That code is not right. Use the current code from your authenticator app "
                "or an unused recovery code.",
                code="invalid_totp_code",
            )
    elif password:
        if not verify_password(user.password_hash, password):
            raise InvalidInput("That password is not right.", code="invalid_password")
    else:
        raise InvalidInput(
            "Give a current code from your authenticator app, a recovery code, or your password.",
            code="confirmation_required",
        )
    user.totp_enabled = False
    user.totp_secret = None
    user.totp_last_step = None
    recovery.remove_codes(session=session, user=user)
    session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id).values(with_second_factor=False)
    )
    audit.record(
        session=session,
        actor=actor_of(user),
        action=audit.AuditAction.USER_TOTP_DISABLED,
        subject_type="user",
        subject_id=user.id,
        details={"confirmed_by": "code" if code else "password"},
    )
    session.flush()


def _require_second_factor_caller(caller_proved_second_factor: bool) -> None:
    if not caller_proved_second_factor:
        raise Forbidden(
            "This API token was issued without a two-factor code, so it cannot change "
            "two-factor sign-in. Issue a new one: POST /api/v1/tokens with your email, "
            "password and 'totp_code' (or 'recovery_code').",
            code="second_factor_token_required",
        )


def regenerate_recovery_codes(
    *, session: Session, user: User, code: str, caller_proved_second_factor: bool = True
) -> list[str]:
    """A fresh set of recovery codes (the old ones stop working), for a current TOTP code,
    from a caller whose credential proved a second factor (see ``disable_totp``).

    A recovery code does not do here: spending one to mint ten would make a single
    leaked code worth a whole set. Returned once. Audited.
    """
    if not user.totp_enabled:
        raise Conflict("Two-factor sign-in is off.", code="totp_not_enabled")
    _require_second_factor_caller(caller_proved_second_factor)
    if not verify_totp_code(session=session, user=user, code=code):
        raise InvalidInput(
            "That code is not right. Use the current code from your authenticator app.",
            code="invalid_totp_code",
        )
    return recovery.replace_codes(session=session, user=user)


def recovery_codes_left(*, session: Session, user: User) -> int:
    return recovery.unused_count(session=session, user=user) if user.totp_enabled else 0


# ---------------------------------------------------------------- preferences


def get_preferences(*, session: Session, user: User) -> NotificationPreference:
    return preferences_of(session=session, users=[user])[user.id]


def preferences_of(
    *, session: Session, users: list[User]
) -> dict[uuid.UUID, NotificationPreference]:
    """Each user's alert preferences, read in one query; the defaults are written for
    users who never set theirs."""
    ids = [user.id for user in users]
    found = {
        p.user_id: p
        for p in session.scalars(
            select(NotificationPreference).where(NotificationPreference.user_id.in_(ids))
        )
    }
    fresh = [
        NotificationPreference(
            user_id=user_id,
            in_app=True,
            email=True,
            push=False,
            event_kinds=list(DEFAULT_ALERT_KINDS),
        )
        for user_id in dict.fromkeys(ids)
        if user_id not in found
    ]
    if fresh:
        session.add_all(fresh)
        session.flush()
        found.update((p.user_id, p) for p in fresh)
    return found


def update_preferences(
    *,
    session: Session,
    user: User,
    in_app: bool | None = None,
    email: bool | None = None,
    push: bool | None = None,
    event_kinds: list[str] | None = None,
) -> NotificationPreference:
    prefs = get_preferences(session=session, user=user)
    if in_app is not None:
        prefs.in_app = in_app
    if email is not None:
        prefs.email = email
    if push is not None:
        prefs.push = push
    if event_kinds is not None:
        valid = {k.value for k in EventKind}
        unknown = sorted(set(event_kinds) - valid)
        if unknown:
            raise InvalidInput(f"Unknown event kinds: {', '.join(unknown)}.", code="unknown_kind")
        prefs.event_kinds = sorted(set(event_kinds))
    session.flush()
    return prefs


def add_push_subscription(
    *, session: Session, user: User, endpoint: str, p256dh: str, auth: str
) -> PushSubscription:
    existing = session.scalar(select(PushSubscription).where(PushSubscription.endpoint == endpoint))
    if existing is not None:
        existing.user_id, existing.p256dh, existing.auth = user.id, p256dh, auth
        session.flush()
        return existing
    row = PushSubscription(user_id=user.id, endpoint=endpoint, p256dh=p256dh, auth=auth)
    session.add(row)
    session.flush()
    return row


def push_subscriptions(*, session: Session, user_id: uuid.UUID) -> list[PushSubscription]:
    return list(
        session.scalars(select(PushSubscription).where(PushSubscription.user_id == user_id))
    )


def remove_push_subscription(*, session: Session, endpoint: str) -> None:
    session.execute(delete(PushSubscription).where(PushSubscription.endpoint == endpoint))
