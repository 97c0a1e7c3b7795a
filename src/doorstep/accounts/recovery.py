"""Recovery codes: one-time codes that stand in for the authenticator app.

A set is made when two-factor sign-in is turned on (and again on request); the plain
codes are returned once and only their hashes are stored. Each code works once, to sign
in or to issue an API token, where a TOTP code would be asked for.
"""

from __future__ import annotations

import secrets

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.accounts.models import RecoveryCode, User
from doorstep.accounts.service import record_account_action
from doorstep.db import utcnow
from doorstep.security import token_digest

CODES_PER_SET = 10
# Lower-case base32 (no 0, 1, 8, 9 to mistake for letters): 16 characters, 80 bits.
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
_LENGTH = 16


def normalize_code(code: str) -> str:
    """What a user types, as stored: case, spaces and the dashes of the shown form dropped."""
    return "".join(ch for ch in code.lower() if ch not in " -\t")


def _digest(code: str) -> str:
    return token_digest(f"recovery:{normalize_code(code)}")


def _new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _LENGTH, 4))


def replace_codes(*, session: Session, user: User) -> list[str]:
    """Replace the user's recovery codes with a fresh set; the old ones stop working.

    Returns the plain codes, which are not stored anywhere: show them once. Audited.
    """
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_code() for _ in range(CODES_PER_SET)]
    session.add_all(RecoveryCode(user_id=user.id, code_hash=_digest(code)) for code in codes)
    record_account_action(
        session=session,
        user=user,
        action=audit.AuditAction.USER_RECOVERY_CODES_GENERATED,
        details={"count": len(codes)},
    )
    session.flush()
    return codes


def remove_codes(*, session: Session, user: User) -> None:
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def use_code(*, session: Session, user: User, code: str | None) -> bool:
    """Spend one unused recovery code of ``user``; False if it is not one (or was used).

    The row is locked (PostgreSQL) so two requests cannot spend the same code. Audited.
    """
    if not code or not (8 <= len(normalize_code(code)) <= 64):
        return False
    row = session.scalar(
        select(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _digest(code),
            RecoveryCode.used_at.is_(None),
        )
        .with_for_update()
    )
    if row is None:
        return False
    row.used_at = utcnow()
    session.flush()
    record_account_action(
        session=session,
        user=user,
        action=audit.AuditAction.USER_RECOVERY_CODE_USED,
        details={"left": unused_count(session=session, user=user)},
    )
    session.flush()
    return True


def unused_count(*, session: Session, user: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )
