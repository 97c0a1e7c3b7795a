"""The policy that bounds footage requests: instance-wide, overridable per agency, audited.

The footage domain owns it (requests are checked against it); the public portal reads it.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.accounts.models import Role, User
from doorstep.accounts.service import actor_of
from doorstep.db import utcnow
from doorstep.errors import Forbidden, InvalidInput
from doorstep.footage.models import PolicyRecord, PolicyVersion

DEFAULT_REFUSED_PURPOSES = [
    "first_amendment_activity",
    "immigration_enforcement",
    "general_announcement",
]

# How the public pages name each setting.
SETTING_LABELS = {
    "min_area_sq_mi": "Smallest area of a request (sq mi)",
    "max_area_sq_mi": "Largest area of a request (sq mi)",
    "min_window_minutes": "Shortest time window (minutes)",
    "max_window_hours": "Longest time window (hours)",
    "max_lookback_days": "Furthest look-back (days)",
    "case_number_required": "Case number required",
    "supervisor_approval": "Supervisor approval required",
    "moderator_review": "Moderator review before sending",
    "monthly_cap": "Requests per agency per month, at most",
    "per_case_limit": "Requests per case, at most",
    "refused_purposes": "Refused purposes",
    "request_open_days": "Days a request stays open",
    "evidence_retention_days": "Days shared evidence is kept",
    "reminder_days": "Reminders to owners (days after the request)",
    "public_h3_resolution": "Public map resolution (H3)",
}


class PolicyViolation(InvalidInput):
    """A request breaks a rule of the policy in force; the code names the rule and the
    message its limit. 400 like any refused input (422 is kept for payload validation)."""

    code = "policy_violation"


class PolicySettings(BaseModel):
    """Every rule a footage request is checked against, with the instance defaults."""

    model_config = ConfigDict(extra="forbid")

    min_area_sq_mi: float = Field(default=0.025, gt=0)
    max_area_sq_mi: float = Field(default=0.5, gt=0)
    min_window_minutes: int = Field(default=15, ge=1)
    max_window_hours: float = Field(default=12.0, gt=0)
    max_lookback_days: int = Field(default=30, ge=1)
    case_number_required: bool = True
    supervisor_approval: bool = False
    moderator_review: bool = True
    monthly_cap: int = Field(default=30, ge=0)
    per_case_limit: int = Field(default=2, ge=1)
    refused_purposes: list[str] = Field(default_factory=lambda: list(DEFAULT_REFUSED_PURPOSES))
    request_open_days: int = Field(default=7, ge=1, le=90)
    evidence_retention_days: int = Field(default=180, ge=1)
    reminder_days: list[int] = Field(default_factory=lambda: [1, 3])
    public_h3_resolution: int = Field(default=8, ge=5, le=9)

    @model_validator(mode="after")
    def _ordered(self) -> PolicySettings:
        if self.min_area_sq_mi > self.max_area_sq_mi:
            raise ValueError("min_area_sq_mi is above max_area_sq_mi")
        if self.min_window_minutes > self.max_window_hours * 60:
            raise ValueError("min_window_minutes is above max_window_hours")
        return self


def _level(session: Session, agency_id: uuid.UUID | None) -> PolicyRecord | None:
    stmt = select(PolicyRecord).where(
        PolicyRecord.agency_id.is_(None)
        if agency_id is None
        else PolicyRecord.agency_id == agency_id
    )
    return session.scalar(stmt)


def effective_policy(*, session: Session, agency_id: uuid.UUID | None = None) -> PolicySettings:
    """The policy in force for an agency (or the instance): defaults < instance < agency."""
    values: dict[str, Any] = {}
    instance = _level(session, None)
    if instance is not None:
        values.update(instance.settings)
    if agency_id is not None:
        override = _level(session, agency_id)
        if override is not None:
            values.update(override.settings)
    return PolicySettings.model_validate(values)


def effective_policies(
    *, session: Session
) -> tuple[PolicySettings, dict[uuid.UUID, PolicySettings]]:
    """The instance's policy, and the policy in force for every agency with overrides, read
    in one query (an agency missing from the dict has the instance's policy)."""
    records = list(session.scalars(select(PolicyRecord)))
    base: dict[str, Any] = {}
    for record in records:
        if record.agency_id is None:
            base.update(record.settings)
    return PolicySettings.model_validate(base), {
        record.agency_id: PolicySettings.model_validate({**base, **record.settings})
        for record in records
        if record.agency_id is not None
    }


def overrides(*, session: Session, agency_id: uuid.UUID | None) -> dict[str, Any]:
    row = _level(session, agency_id)
    return dict(row.settings) if row else {}


def change_policy(
    *,
    session: Session,
    actor: User,
    changes: dict[str, Any],
    reason: str,
    agency_id: uuid.UUID | None = None,
) -> PolicySettings:
    """An instance admin changes the instance policy or an agency's overrides.

    A value of None removes an override. The result must be a valid policy; the
    change is versioned and audited (public) in the same transaction.
    """
    if actor.role != Role.admin:
        raise Forbidden("Only an instance administrator can change the policy.", code="admin_only")
    if not reason.strip():
        raise InvalidInput("Give a reason for the change; it is published.", code="reason_required")
    unknown = sorted(set(changes) - set(PolicySettings.model_fields))
    if unknown:
        raise InvalidInput(
            f"Unknown policy settings: {', '.join(unknown)}.", code="unknown_policy_setting"
        )
    row = _level(session, agency_id)
    normalized = _checked_level(session, agency_id, row, changes)
    if row is None:
        row = PolicyRecord(agency_id=agency_id, settings=normalized)
        session.add(row)
    else:
        row.settings = normalized
    row.updated_at, row.updated_by = utcnow(), actor.id
    session.add(
        PolicyVersion(
            agency_id=agency_id,
            settings=normalized,
            changed=changes,
            reason=reason.strip(),
            changed_by=actor.id,
        )
    )
    audit.record(
        session=session,
        actor=actor_of(actor),
        action=audit.AuditAction.POLICY_CHANGED,
        subject_type="agency_policy" if agency_id else "policy",
        subject_id=str(agency_id) if agency_id else "instance",
        details={"changes": changes, "reason": reason.strip()},
        is_public=True,
    )
    session.flush()
    return effective_policy(session=session, agency_id=agency_id)


def _checked_level(
    session: Session,
    agency_id: uuid.UUID | None,
    row: PolicyRecord | None,
    changes: dict[str, Any],
) -> dict[str, Any]:
    """The settings of one level after ``changes`` (None removes a value), normalized by
    the model; raises unless the policy in force with them is valid."""
    current = dict(row.settings) if row else {}
    for key, value in changes.items():
        if value is None:
            current.pop(key, None)
        else:
            current[key] = value
    base: dict[str, Any] = {}
    if agency_id is not None:
        instance = _level(session, None)
        base = dict(instance.settings) if instance else {}
    try:
        checked = PolicySettings.model_validate({**base, **current})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "policy"
        raise InvalidInput(
            f"Invalid policy: {where}: {first['msg']}.", code="invalid_policy"
        ) from exc
    # Keep only what this level sets, normalized by the model.
    return {k: getattr(checked, k) for k in current}


def history(
    *, session: Session, agency_id: uuid.UUID | None = None, all_levels: bool = False
) -> list[PolicyVersion]:
    stmt = select(PolicyVersion).order_by(PolicyVersion.changed_at.desc(), PolicyVersion.id.desc())
    if not all_levels:
        stmt = stmt.where(
            PolicyVersion.agency_id.is_(None)
            if agency_id is None
            else PolicyVersion.agency_id == agency_id
        )
    return list(session.scalars(stmt))


def all_overrides(*, session: Session) -> dict[uuid.UUID, dict[str, Any]]:
    """Every agency's overrides (agencies without any are left out)."""
    rows = session.scalars(select(PolicyRecord).where(PolicyRecord.agency_id.is_not(None)))
    return {row.agency_id: dict(row.settings) for row in rows if row.agency_id and row.settings}
