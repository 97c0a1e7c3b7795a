"""The names and codes by which outside datasets know an agency: aliases ("New York
Police Department" for the "New York City Police Department"), the Washington Post's
agency id, the FBI's ORI code.

Only an instance admin adds or removes one (the command line counts as the instance's
operator); every change is an audited, public action. A code (not an alias) belongs to
one agency only, so that a dataset row carrying it can never match two.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from doorstep import audit
from doorstep.accounts.models import Role, User
from doorstep.accounts.service import actor_of
from doorstep.agencies.models import Agency, AgencyIdentifier, IdentifierScheme
from doorstep.agencies.service import AGENCY_TRAIL, get_agency
from doorstep.errors import Conflict, Forbidden, InvalidInput, NotFound


@dataclass(frozen=True)
class KnownIdentifier:
    """An identifier with what matching needs of its agency."""

    agency_id: uuid.UUID
    state: str
    scheme: IdentifierScheme
    value: str


def clean_value(scheme: IdentifierScheme, value: str) -> str:
    """An identifier as stored: codes in upper case without spaces, aliases trimmed."""
    text = " ".join(value.split())
    if scheme != IdentifierScheme.alias:
        text = text.replace(" ", "").upper()
    if not text or len(text) > 200:
        raise InvalidInput(
            "An agency identifier is 1 to 200 characters.", code="invalid_identifier"
        )
    return text


def _actor(actor: User | None) -> audit.Actor:
    if actor is None:
        return audit.Actor.system("cli")
    if actor.role != Role.admin:
        raise Forbidden(
            "Only an instance administrator can change an agency's identifiers.",
            code="admin_only",
        )
    return actor_of(actor)


def add_identifier(
    *,
    session: Session,
    actor: User | None,
    agency_id: uuid.UUID,
    scheme: IdentifierScheme,
    value: str,
) -> AgencyIdentifier:
    """Give the agency an alias or an outside code (``actor`` None: the command line).

    Guarantees: adding one it already has changes nothing and is not audited again; a
    code another agency carries is refused; the change is audited (public)."""
    who = _actor(actor)
    agency = get_agency(session=session, agency_id=agency_id)
    value = clean_value(scheme, value)
    existing = session.scalars(
        select(AgencyIdentifier).where(
            AgencyIdentifier.scheme == scheme, AgencyIdentifier.value == value
        )
    ).all()
    for row in existing:
        if row.agency_id == agency.id:
            return row
        if scheme != IdentifierScheme.alias:
            raise Conflict(
                f"Another agency already carries the {scheme.value} code {value}.",
                code="identifier_taken",
            )
    row = AgencyIdentifier(
        agency_id=agency.id, scheme=scheme, value=value, added_by=who.id if who.id else None
    )
    session.add(row)
    AGENCY_TRAIL.record(
        session,
        who,
        audit.AuditAction.AGENCY_IDENTIFIER_ADDED,
        agency.id,
        scheme=scheme.value,
        value=value,
    )
    session.flush()
    return row


def remove_identifier(
    *, session: Session, actor: User | None, agency_id: uuid.UUID, identifier_id: uuid.UUID
) -> None:
    """Take an identifier off the agency; audited (public)."""
    who = _actor(actor)
    row = session.get(AgencyIdentifier, identifier_id)
    if row is None or row.agency_id != agency_id:
        raise NotFound("No such identifier on this agency.", code="identifier_not_found")
    AGENCY_TRAIL.record(
        session,
        who,
        audit.AuditAction.AGENCY_IDENTIFIER_REMOVED,
        agency_id,
        scheme=row.scheme.value,
        value=row.value,
    )
    session.delete(row)
    session.flush()


def identifiers_of(*, session: Session, agency_id: uuid.UUID) -> list[AgencyIdentifier]:
    """The agency's identifiers, by scheme and value (public)."""
    return list(
        session.scalars(
            select(AgencyIdentifier)
            .where(AgencyIdentifier.agency_id == agency_id)
            .order_by(AgencyIdentifier.scheme, AgencyIdentifier.value)
        )
    )


def known_identifiers(*, session: Session) -> list[KnownIdentifier]:
    """Every identifier of an agency that was ever verified (active, suspended or ended):
    applications still pending or rejected are known by nothing."""
    rows = session.execute(
        select(Agency.id, Agency.state, AgencyIdentifier.scheme, AgencyIdentifier.value)
        .join(AgencyIdentifier, AgencyIdentifier.agency_id == Agency.id)
        .where(Agency.verified_at.is_not(None))
    ).all()
    return [KnownIdentifier(a, s.upper(), scheme, v) for a, s, scheme, v in rows]
