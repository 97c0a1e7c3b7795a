"""An agency's acceptable-use statement and prohibited uses: set by an instance admin,
published on the agency's page, every change audited (public)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.accounts.models import Role, User
from doorstep.accounts.service import actor_of
from doorstep.agencies import service as agency_service
from doorstep.db import utcnow
from doorstep.errors import Forbidden, InvalidInput
from doorstep.footage import policy as policy_service
from doorstep.transparency.models import AgencyStatement
from doorstep.transparency.schemas import StatementRead

MAX_USE_LENGTH = 300


def statement_view(*, session: Session, agency_id: uuid.UUID) -> StatementRead:
    """The statement as published, with the purposes the policy in force refuses."""
    row = session.get(AgencyStatement, agency_id)
    refused = policy_service.effective_policy(session=session, agency_id=agency_id)
    return StatementRead(
        acceptable_use=row.acceptable_use if row else "",
        prohibited_uses=list(row.prohibited_uses) if row else [],
        refused_by_policy=list(refused.refused_purposes),
        updated_at=row.updated_at if row else None,
    )


def set_statement(
    *,
    session: Session,
    actor: User,
    agency_id: uuid.UUID,
    acceptable_use: str,
    prohibited_uses: list[str],
    reason: str,
) -> StatementRead:
    """An instance admin sets an agency's statement. Guarantees: the agency exists, the
    uses are trimmed, non-empty and unique, and the change is audited (public) with its
    reason in this transaction."""
    if actor.role != Role.admin:
        raise Forbidden(
            "Only an instance administrator can change an agency's statement.", code="admin_only"
        )
    if not reason.strip():
        raise InvalidInput("Give a reason for the change; it is published.", code="reason_required")
    agency_service.get_agency(session=session, agency_id=agency_id)
    uses: list[str] = []
    for use in prohibited_uses:
        use = " ".join(use.split())
        if len(use) > MAX_USE_LENGTH:
            raise InvalidInput(
                f"A prohibited use is at most {MAX_USE_LENGTH} characters.", code="use_too_long"
            )
        if use and use not in uses:
            uses.append(use)
    row = session.get(AgencyStatement, agency_id)
    if row is None:
        row = AgencyStatement(agency_id=agency_id)
        session.add(row)
    row.acceptable_use = acceptable_use.strip()
    row.prohibited_uses = uses
    row.updated_at, row.updated_by = utcnow(), actor.id
    audit.record(
        session=session,
        actor=actor_of(actor),
        action=audit.AuditAction.AGENCY_STATEMENT_CHANGED,
        subject_type="agency",
        subject_id=agency_id,
        is_public=True,
        details={
            "acceptable_use": row.acceptable_use,
            "prohibited_uses": uses,
            "reason": reason.strip(),
        },
    )
    session.flush()
    return statement_view(session=session, agency_id=agency_id)
