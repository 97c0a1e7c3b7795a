from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from doorstep.accounts.models import Role
from doorstep.inputs import Line, OptionalFlag, OptionalLine, Schema, Text
from doorstep.media.kinds import EventKind

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def _normalize_email(value: str) -> str:
    value = value.strip().lower()
    if len(value) > 320 or not _EMAIL.match(value):
        raise ValueError("not a valid email address")
    return value


Email = Annotated[Line, AfterValidator(_normalize_email)]


class UserCreate(Schema):
    email: Email
    display_name: Line = Field(min_length=1, max_length=80)
    password: Line = Field(min_length=10, max_length=200)


class UserRead(Schema):
    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    totp_enabled: bool
    created_at: datetime
    time_zone: str | None = Field(
        description="The zone pages show his times in (IANA name); null: his browser's zone."
    )


class TimeZoneUpdate(Schema):
    """The zone to read times in (an IANA name such as America/New_York); null follows the
    browser's zone."""

    time_zone: str | None = Field(max_length=64)


class TokenCreate(Schema):
    """Exchange credentials for an API token (scripts, devices)."""

    email: Email
    # Only compared with the stored hash: a password set before the one-line rule still
    # signs in, so this is checked as free text (the route layer refuses NUL and C0).
    password: Text
    totp_code: OptionalLine = Field(default=None, max_length=100)
    recovery_code: OptionalLine = Field(
        default=None, max_length=64, description="One unused recovery code, instead of totp_code."
    )
    name: Line = Field(default="script", min_length=1, max_length=80)


class TokenRead(Schema):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    with_second_factor: bool = Field(
        description="Issued with a second factor; only such tokens act for an agency."
    )


class TokenIssued(TokenRead):
    token: str = Field(description="Shown once; store it now.")


class RoleChange(Schema):
    role: Role


class NotificationPreferenceRead(Schema):
    in_app: bool
    email: bool
    push: bool
    event_kinds: list[EventKind]


class NotificationPreferenceUpdate(Schema):
    in_app: OptionalFlag = None
    email: OptionalFlag = None
    push: OptionalFlag = None
    event_kinds: list[EventKind] | None = None

    @field_validator("event_kinds")
    @classmethod
    def _unique(cls, v: list[EventKind] | None) -> list[EventKind] | None:
        return sorted(set(v)) if v is not None else None


class PushSubscriptionCreate(Schema):
    endpoint: Line = Field(min_length=8, max_length=1000, pattern=r"^https://")
    p256dh: Line = Field(min_length=16, max_length=200)
    auth: Line = Field(min_length=8, max_length=100)


class TwoFactorStatus(Schema):
    enabled: bool
    setup_in_progress: bool
    recovery_codes_left: int


class TwoFactorEnrolment(Schema):
    """A setup in progress: add the secret to an authenticator app, then confirm a code."""

    secret: str = Field(description="The shared secret (base32), for typing in.")
    otpauth_uri: str = Field(description="The otpauth:// URI, for a QR code.")


class TwoFactorCode(Schema):
    code: str = Field(min_length=6, max_length=64)


class TwoFactorEnabled(Schema):
    recovery_codes: list[str] = Field(
        description="Shown once: each works once instead of a TOTP code. Store them safely."
    )
    revoked_tokens: int = Field(
        description="Password-only API tokens revoked now (this one too, if it was one): "
        "issue new ones with 'totp_code'."
    )


class TwoFactorDisable(Schema):
    """Confirm with a current code (TOTP or recovery) or the password."""

    code: str | None = Field(default=None, max_length=64)
    password: str | None = Field(default=None, max_length=200)


class RecoveryCodes(Schema):
    recovery_codes: list[str] = Field(description="Shown once; the previous set stops working.")
