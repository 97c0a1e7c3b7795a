"""Two-factor sign-in: TOTP setup, codes, recovery codes, and turning it on and off.

Turning it on revokes every credential that proved only the password; turning it off
needs a caller whose own credential proved a second factor. Both are audited. The
recovery codes themselves live in ``accounts.recovery``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

import pyotp
from sqlalchemy import CursorResult, delete
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.accounts import api_tokens, recovery
from doorstep.accounts.models import User, WebSession
from doorstep.accounts.service import record_account_action
from doorstep.db import utcnow
from doorstep.errors import Conflict, Forbidden, InvalidInput
from doorstep.security import verify_password

TOTP_ISSUER = "doorstep"


class CodeAlreadyUsed(InvalidInput, code="code_already_used"):
    """A right code whose 30-second step was already spent: it cannot be given twice."""


def _refuse_replay() -> CodeAlreadyUsed:
    return CodeAlreadyUsed(
        "That code was just used. Wait for the next code from your authenticator app "
        "(a new one comes every 30 seconds) and enter that one."
    )


def verify_totp_code(*, session: Session, user: User, code: str | None) -> bool:
    """Accept a current TOTP code once. A right code whose step was already used (or one
    before it) is refused with ``CodeAlreadyUsed``, so the person is told to wait for the
    next code rather than that his code is wrong."""
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
                raise _refuse_replay()
            user.totp_last_step = step
            session.flush()
            return True
    return False


def verify_second_factor(*, session: Session, user: User, code: str | None) -> str | None:
    """Accept a current TOTP code or one unused recovery code (spent by this call).

    Returns how the factor was given (``"totp"`` or ``"recovery_code"``), or None; a
    TOTP code already used in its step raises ``CodeAlreadyUsed``.
    """
    if not user.totp_enabled:
        return None
    if verify_totp_code(session=session, user=user, code=code):
        return "totp"
    if recovery.use_code(session=session, user=user, code=code):
        return "recovery_code"
    return None


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
    revoked = api_tokens.revoke_password_only_tokens(session=session, user=user)
    other_sessions = delete(WebSession).where(WebSession.user_id == user.id)
    if keep_web_session_id is not None:
        other_sessions = other_sessions.where(WebSession.id != keep_web_session_id)
    ended = cast("CursorResult[Any]", session.execute(other_sessions)).rowcount or 0
    record_account_action(
        session=session,
        user=user,
        action=audit.AuditAction.USER_TOTP_ENABLED,
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
    api_tokens.drop_second_factor_marks(session=session, user=user)
    record_account_action(
        session=session,
        user=user,
        action=audit.AuditAction.USER_TOTP_DISABLED,
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
